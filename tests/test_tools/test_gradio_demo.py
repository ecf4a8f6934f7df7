# Copyright (c) mmltml contributors. All rights reserved.
"""The Gradio demo (tools/misc/gradio_demo.py) in a real headless browser.

The ``slow`` tests launch the demo as a subprocess, drive Debian's
chromium through selenium and chromedriver, upload an image and read the
labels the page shows: a one-epoch LMPT checkpoint whose training list file
is then removed (the groups come from the checkpoint's class statistics),
and zero-shot class names typed into the page. They need the demo extra
(``pip install "mmltml[demo]"``), selenium and the system browser
(``apt-get install -y chromium chromium-driver``); without them they are
skipped with the reason, unless ``MMLTML_REQUIRE_BROWSER=1`` (CI, whose
``.ci/run`` installs them), which makes that a failure.

The default-tier tests check the page's table and group rule without a
browser.
"""
import contextlib
import importlib.util
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

from mmltml.benchmarks.synthetic import generate_synthetic_lt
from tests._ports import free_port
from tests._tiny_setup import REPO_ROOT, run_tool

DEMO = osp.join(REPO_ROOT, 'tools', 'misc', 'gradio_demo.py')
CONFIG = 'configs/synthetic/lmpt_tinyclip_synthetic.py'
CHECKPOINT = osp.join(REPO_ROOT, 'checkpoints', 'tinyclip_synthetic.pth')
BROWSER_FLAGS = ('--headless', '--no-sandbox', '--disable-gpu',
                 '--disable-quic', '--no-first-run',
                 '--disable-background-networking',
                 '--disable-component-update', '--disable-sync')


def _demo_module():
    spec = importlib.util.spec_from_file_location('gradio_demo', DEMO)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------
# Without a browser
# ---------------------------------------------------------------------------
def test_groups_follow_the_statistics_thresholds():
    demo = _demo_module()
    stats = dict(class_freq=[150, 100, 99, 20, 19, 0])
    assert demo.class_groups(stats) == ['head', 'head', 'medium', 'medium',
                                        'tail', 'tail']
    stats['thresholds'] = dict(head=50, tail=5)
    assert demo.class_groups(stats) == ['head', 'head', 'head', 'medium',
                                        'medium', 'tail']


def test_table_escapes_names():
    demo = _demo_module()
    html = demo.render([demo.Row('a <b> & c', 12.3456, 0.99999, 'tail', 3),
                        demo.Row('d', None, 0.5, 'n/a', None)])
    assert '<td class="class">a &lt;b&gt; &amp; c</td>' in html
    assert '<td class="logit">12.346</td>' in html
    assert '<td class="score">1.0000</td>' in html
    assert '<td class="logit"></td><td class="score">0.5000</td>' in html


# ---------------------------------------------------------------------------
# In a browser
# ---------------------------------------------------------------------------
@pytest.fixture(scope='module')
def browser():
    """``(chromium, chromedriver)`` paths, or skip / fail with the
    reason (before anything is trained)."""
    problems = []
    for module, hint in (('gradio', 'pip install "mmltml[demo]"'),
                         ('selenium', 'pip install selenium')):
        if importlib.util.find_spec(module) is None:
            problems.append(f'{module} is not installed ({hint})')
    chromium = shutil.which('chromium') or shutil.which('chromium-browser')
    driver = shutil.which('chromedriver')
    if chromium is None or driver is None:
        problems.append('no chromium / chromedriver on PATH (Debian: '
                        'apt-get install -y chromium chromium-driver)')
    if problems:
        message = 'browser test of the demo: ' + '; '.join(problems)
        if os.environ.get('MMLTML_REQUIRE_BROWSER') == '1':
            pytest.fail(message)
        pytest.skip(message)
    return chromium, driver


@contextlib.contextmanager
def _demo_server(args, cwd):
    """The demo on a free port; yields its URL once it answers."""
    port = free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED='False',
               PYTHONPATH=REPO_ROOT + os.pathsep +
               os.environ.get('PYTHONPATH', ''))
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, DEMO] + args +
                            ['--port', str(port)], cwd=cwd, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f'http://127.0.0.1:{port}/'
    try:
        deadline = time.time() + 300
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise AssertionError(f'the demo exited ({proc.returncode}):'
                                     f'\n{log.read().decode()[-4000:]}')
            try:
                urllib.request.urlopen(url, timeout=5).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        log.close()


@contextlib.contextmanager
def _browser(chromium, driver_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    profile = tempfile.mkdtemp(prefix='mmltml-chromium-')
    for flag in BROWSER_FLAGS + (f'--user-data-dir={profile}', ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _shown_labels(driver, url, image, names=None):
    """Open the page, upload ``image`` (type ``names`` into the class
    names box first), press Predict; the table's rows as
    ``(class, logit, group, training images)``."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    wait = WebDriverWait(driver, 180)
    driver.get(url)
    upload = wait.until(lambda d: d.find_element(
        By.CSS_SELECTOR, '#image input[type=file]'))
    upload.send_keys(image)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#image img'))
    if names is not None:
        box = driver.find_element(By.CSS_SELECTOR, '#names textarea')
        box.clear()
        box.send_keys(names)
    driver.find_element(By.CSS_SELECTOR, '#predict').click()
    rows = wait.until(lambda d: d.find_elements(
        By.CSS_SELECTOR, '#mmltml-predictions tr.prediction'))
    shown = []
    for row in rows:
        cells = {c.get_attribute('class'): c.text
                 for c in row.find_elements(By.TAG_NAME, 'td')}
        shown.append((cells['class'], float(cells['logit']), cells['group'],
                       cells['train-images']))
    return shown


@pytest.fixture(scope='module')
def trained(browser, tmp_path_factory):
    """One LMPT epoch on a small synthetic benchmark."""
    root = tmp_path_factory.mktemp('demo')
    for name in ('configs', 'checkpoints'):
        os.symlink(osp.join(REPO_ROOT, name), root / name)
    generate_synthetic_lt(str(root / 'data' / 'synthetic'), seed=0,
                          max_train_count=120, min_train_count=4,
                          test_per_class=2)
    run_tool([osp.join(REPO_ROOT, 'tools', 'train.py'), CONFIG,
              '--work-dir', 'work', '--cfg-options',
              'train_cfg.max_epochs=1'], str(root))
    return root, str(root / 'work' / 'epoch_1.pth')


def _training_counts(train_list, num_classes):
    counts = [0] * num_classes
    with open(train_list) as f:
        for line in f:
            for label in line.split()[1:]:
                counts[int(label)] += 1
    return counts


@pytest.mark.slow
def test_checkpoint_labels_scores_and_groups_in_a_browser(browser, trained,
                                                          monkeypatch):
    chromium, driver_path = browser
    root, checkpoint = trained
    data = root / 'data' / 'synthetic'
    with open(data / 'labels.txt') as f:
        classes = [line.rsplit(None, 1)[0] for line in f if line.strip()]
    counts = _training_counts(data / 'train.txt', len(classes))
    # head n >= 100, medium 20 <= n < 100, tail n < 20 (COCO-LT's rule)
    group = ['head' if n >= 100 else 'medium' if n >= 20 else 'tail'
             for n in counts]
    assert {'head', 'medium', 'tail'} <= set(group)
    with open(data / 'test.txt') as f:
        image = str(data / f.readline().split()[0])

    from mmltml.apis import MultiLabelInferencer
    monkeypatch.chdir(root)
    expected = MultiLabelInferencer(CONFIG, pretrained=checkpoint,
                                    device='cpu', topk=5)(image)[0]
    # the groups must come from the checkpoint's class statistics
    shutil.move(data / 'train.txt', root / 'train.moved')
    try:
        with _demo_server([CONFIG, checkpoint], str(root)) as url, \
                _browser(chromium, driver_path) as driver:
            shown = _shown_labels(driver, url, image)
    finally:
        shutil.move(root / 'train.moved', data / 'train.txt')
    assert [name for name, _, _, _ in shown] == expected['pred_classes']
    assert [logit for _, logit, _, _ in shown] == pytest.approx(
        expected['pred_label_logits'], abs=1.5e-3)
    for name, _, shown_group, shown_count in shown:
        idx = classes.index(name)
        assert (shown_group, int(shown_count)) == (group[idx], counts[idx])


@pytest.mark.slow
def test_zero_shot_class_names_typed_in_the_page(browser, tmp_path):
    chromium, driver_path = browser
    from PIL import Image
    image = str(tmp_path / 'shapes.png')
    Image.new('RGB', (64, 64), (200, 30, 30)).save(image)
    typed = ['red circle', 'blue star', 'green square']
    from mmltml.apis import ZeroShotInferencer
    expected = ZeroShotInferencer(typed, clip_model_cfg='tinyclip-synthetic',
                                  clip_pretrained=CHECKPOINT, device='cpu',
                                  topk=3)(image)[0]
    args = ['--classes', 'cat,dog', '--clip-model-cfg', 'tinyclip-synthetic',
            '--clip-pretrained', CHECKPOINT]
    with _demo_server(args, str(tmp_path)) as url, \
            _browser(chromium, driver_path) as driver:
        shown = _shown_labels(driver, url, image, names=', '.join(typed))
    assert [name for name, _, _, _ in shown] == expected['pred_classes']
    assert [logit for _, logit, _, _ in shown] == pytest.approx(
        expected['pred_label_logits'], abs=1.5e-3)
    assert {(g, n) for _, _, g, n in shown} == {('n/a', '')}
