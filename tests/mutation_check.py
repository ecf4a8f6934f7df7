# Copyright (c) mmltml contributors. All rights reserved.
"""Does the suite fail when a headline claim breaks? (Not part of CI.)

Each mutation below is one deliberate bug in one file. For each, the
checkout's files (those git tracks or would track, as they are on disk)
are copied into a temporary directory, the bug is written into the
copy, and only the tests relevant to it run there (``python -m pytest -x``
with the copy first on ``PYTHONPATH``). A mutation is

* ``caught`` when those tests fail,
* ``MISSED`` when they pass,
* ``n/a`` when its pattern is not in the file (the code moved on: update
  the mutation), and
* ``error`` when pytest did not run them (usage error, nothing selected).

First the union of the relevant tests runs in an unmutated copy: it must
pass, or every "caught" would mean nothing.

Usage (from the repository root; a few minutes on 2 CPU cores)::

    python tests/mutation_check.py               # all mutations
    python tests/mutation_check.py --list        # names and claims
    python tests/mutation_check.py --only cache-shard-contiguous readme-table
    python tests/mutation_check.py --no-baseline

The official LT list files are found as by ``tests/conftest.py`` (beside
this checkout or ``MMLTML_LTML_DIR``); the copy is pointed at them.
Exit status: 0 if every applicable mutation was caught, 1 otherwise.
"""
import argparse
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


@dataclass
class Mutation:
    """One bug: ``pattern`` (a regular expression, exactly one match in
    ``path``) replaced by ``replacement``; ``tests`` are pytest arguments
    (paths, node ids, ``-k``/``-m`` options)."""

    name: str
    claim: str
    path: str
    pattern: str
    replacement: str
    tests: List[str] = field(default_factory=list)


DIST_TEST = ('tests/test_tools/test_dist_tools.py::'
             'test_two_processes_train_and_evaluate_like_one')

MUTATIONS = [
    # -- the gaps of issue 20 -------------------------------------------
    Mutation(
        'groupmap-fp32-sigmoid',
        'GroupMAP ranks by the fp32 sigmoid pred_score, not the logits',
        'mmltml/evaluation/metrics/group_map.py',
        # the metric keeps the logits the heads store (pred_logits)
        r"key = PRED_LOGITS if PRED_LOGITS in sample else 'pred_score'",
        "key = 'pred_score'",
        ['tests/test_evaluation/test_logit_ranking.py',
         'tests/test_tools/test_logit_scale_invariance.py']),
    Mutation(
        'cache-shard-contiguous',
        'feature-cache encoding sharded in contiguous blocks, not strided',
        'mmltml/datasets/cached_feature_dataset.py',
        r'indices = list\(range\(rank, len\(self\), world_size\)\)',
        'chunk = -(-len(self) // world_size)\n'
        '        indices = list(range(rank * chunk,\n'
        '                             min(len(self), (rank + 1) * chunk)))',
        ['tests/test_models/test_feature_cache.py', DIST_TEST]),
    Mutation(
        'text-truncation-off',
        'text truncation switched off entirely (all positions run)',
        'mmltml/models/utils/clip_text.py',
        r'length = int\(eot\.max\(\)\) \+ 1 if truncate else '
        r'embeds\.shape\[1\]',
        'length = embeds.shape[1]',
        ['tests/test_models/test_clip_prompt.py',
         'tests/test_models/test_clip_text_memo.py']),
    Mutation(
        'sampler-rank-overlap',
        '2-process training: every rank trains on the first shard of the '
        'class-aware sequence',
        'mmltml/datasets/samplers/class_aware_sampler.py',
        r'start = self\.rank \* self\.num_samples',
        'start = 0',
        [DIST_TEST]),
    Mutation(
        'readme-table',
        "a figure of the README's results table differs from the "
        'measured one',
        'README.md',
        r"(\| \*\*LMPT\*\* \(the quickstart's job\) \| \d+\.\d\d)",
        r'\g<1>1',  # one more digit: 62.53 -> 62.531
        ['tests/test_tools/test_readme_results.py']),
    Mutation(
        'benchmarks-doc',
        'a speed-up in docs/benchmarks.md differs from its measurements',
        'docs/benchmarks.md',
        r'\| optimised step vs plain step \| \*\*8\.36x\*\*',
        '| optimised step vs plain step | **8.63x**',
        ['tests/test_tools/test_benchmark_doc.py']),
    # -- claims the suite already protected (one representative each) ------
    Mutation(
        'cse-hinge-sign',
        'CSE loss: hinge of the negatives on Delta - mu instead of '
        'mu - Delta',
        'mmltml/models/losses/cse_loss.py',
        r'hinge_arg = margin - distance',
        'hinge_arg = distance - margin',
        ['tests/test_models/test_cse_loss.py']),
    Mutation(
        'db-ntr-scale',
        'DB loss: negative logits divided by lambda instead of multiplied',
        'mmltml/models/losses/db_loss.py',
        r'cls_score = cls_score \* \(1 - label\) \* scale \+ '
        r'cls_score \* label',
        'cls_score = cls_score * (1 - label) / scale + cls_score * label',
        ['tests/test_models/test_db_loss.py']),
    Mutation(
        'ap-tie-rule',
        'AP: tied scores ranked one by one instead of as one threshold',
        'mmltml/evaluation/metrics/group_map.py',
        r'ends = np\.r_\[np\.flatnonzero\(np\.diff\(scores\)\), '
        r'labels\.size - 1\]',
        'ends = np.arange(labels.size)',
        ['tests/test_evaluation/test_group_map.py']),
    Mutation(
        'group-boundary',
        'groups: a class with n = head_thr counted as medium',
        'mmltml/structures/class_stats.py',
        r'if n >= head_thr:',
        'if n > head_thr:',
        ['tests/test_evaluation/test_group_map.py',
         'tests/test_structures/test_class_stats.py']),
    Mutation(
        'cache-views-swapped',
        'feature cache: the flipped and unflipped views swapped',
        'mmltml/datasets/cached_feature_dataset.py',
        r'transform\.prob = 1\.0 if flip else 0\.0',
        'transform.prob = 0.0 if flip else 1.0',
        ['tests/test_models/test_feature_cache.py',
         'tests/test_models/test_cached_feature_preprocessor.py']),
    Mutation(
        'cache-flip-epoch-ignored',
        'feature cache: every epoch draws the flips of epoch 0',
        'mmltml/datasets/cached_feature_dataset.py',
        r'default_rng\(\(self\.seed, self\.epoch, idx\)\)',
        'default_rng((self.seed, 0, idx))',
        ['tests/test_datasets/test_cached_feature_flips.py']),
    Mutation(
        'text-memo-stale',
        'eval-mode text memo served after the prompts changed',
        'mmltml/models/backbones/clip_prompt_backbone.py',
        r'torch\.equal\(old, new\)',
        'True',
        ['tests/test_models/test_clip_text_memo.py']),
    Mutation(
        'resume-skip',
        'mid-epoch resume skips one batch too few',
        'mmltml/engine/runners/resumable_epoch_based_train_loop.py',
        r'for _ in range\(count\):',
        'for _ in range(count - 1):',
        ['tests/test_reliability/test_determinism_resume.py']),
]


def ltml_dir() -> Optional[str]:
    """The official list files, as tests/conftest.py finds them."""
    path = os.environ.get(
        'MMLTML_LTML_DIR',
        osp.join(osp.dirname(REPO_ROOT), 'shared', 'data', 'ltml'))
    return path if osp.isdir(path) else None


def copy_repo(dest: str) -> None:
    """The files of this checkout that git tracks or would track (not
    ignored), as they are on disk."""
    files = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others',
                            '--exclude-standard'], cwd=REPO_ROOT,
                           check=True, capture_output=True,
                           text=True).stdout.split('\0')
    for rel in filter(None, files):
        src = osp.join(REPO_ROOT, rel)
        if not osp.isfile(src):  # deleted in the working tree
            continue
        os.makedirs(osp.dirname(osp.join(dest, rel)), exist_ok=True)
        shutil.copy2(src, osp.join(dest, rel))


def apply(mutation: Mutation, root: str) -> bool:
    """Write the bug into the copy; False when the pattern is absent."""
    path = osp.join(root, mutation.path)
    with open(path) as f:
        text = f.read()
    matches = len(re.findall(mutation.pattern, text))
    if matches == 0:
        return False
    if matches > 1:
        raise ValueError(f'{mutation.name}: {matches} matches of the '
                         f'pattern in {mutation.path}; make it unique')
    mutated = re.sub(mutation.pattern, mutation.replacement, text)
    assert mutated != text
    with open(path, 'w') as f:
        f.write(mutated)
    return True


def run_tests(root: str, tests: Sequence[str],
              stop_first: bool = True) -> Tuple[int, str, float]:
    """pytest ``tests`` inside the copy; (exit status, output, seconds)."""
    env = dict(os.environ)
    env['PYTHONPATH'] = root + os.pathsep + env.get('PYTHONPATH', '')
    env.pop('PYTEST_ADDOPTS', None)
    if ltml_dir():
        env['MMLTML_LTML_DIR'] = ltml_dir()
    cmd = [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
           '-m', 'slow or not slow'] + (['-x'] if stop_first else [])
    start = time.perf_counter()
    proc = subprocess.run(cmd + list(tests), cwd=root, env=env,
                          capture_output=True, text=True)
    return (proc.returncode, proc.stdout + proc.stderr,
            time.perf_counter() - start)


def failed_tests(output: str) -> List[str]:
    return re.findall(r'^FAILED (\S+)', output, flags=re.M)


def check(mutation: Mutation, keep: bool) -> Tuple[str, str, float]:
    """(verdict, detail, seconds) of one mutation."""
    root = tempfile.mkdtemp(prefix=f'mutation-{mutation.name}-')
    try:
        copy_repo(root)
        if not apply(mutation, root):
            return 'n/a', f'pattern not found in {mutation.path}', 0.0
        status, output, seconds = run_tests(root, mutation.tests)
        if status == 1:
            failed = failed_tests(output)
            return 'caught', (failed[0] if failed else 'tests failed'), \
                seconds
        if status == 0:
            return 'MISSED', 'the relevant tests pass', seconds
        tail = output.strip().splitlines()[-1:] or ['']
        return 'error', f'pytest exit {status}: {tail[0]}', seconds
    finally:
        if keep:
            print(f'  (kept {root})')
        else:
            shutil.rmtree(root, ignore_errors=True)


def baseline(mutations: Sequence[Mutation]) -> bool:
    tests = list(dict.fromkeys(t for m in mutations for t in m.tests))
    root = tempfile.mkdtemp(prefix='mutation-baseline-')
    try:
        copy_repo(root)
        status, output, seconds = run_tests(root, tests, stop_first=False)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    summary = output.strip().splitlines()[-1] if output.strip() else ''
    print(f'baseline (unmutated, {len(tests)} test targets, '
          f'{seconds:.0f} s): {summary}')
    if status != 0:
        print(output[-5000:])
    return status == 0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--only', nargs='+', metavar='NAME',
                        help='run only these mutations')
    parser.add_argument('--list', action='store_true',
                        help='list the mutations and exit')
    parser.add_argument('--no-baseline', action='store_true',
                        help='skip the unmutated run of the tests')
    parser.add_argument('--keep', action='store_true',
                        help='keep the mutated copies (paths printed)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    chosen = MUTATIONS
    if args.only:
        unknown = set(args.only) - {m.name for m in MUTATIONS}
        if unknown:
            raise SystemExit(f'unknown mutation(s): {sorted(unknown)}')
        chosen = [m for m in MUTATIONS if m.name in args.only]
    if args.list:
        for m in chosen:
            print(f'{m.name:24} {m.claim}')
        return 0
    if not args.no_baseline and not baseline(chosen):
        print('the tests fail without any mutation: fix them first')
        return 1
    rows = []
    for mutation in chosen:
        verdict, detail, seconds = check(mutation, args.keep)
        print(f'{mutation.name}: {verdict} ({seconds:.0f} s) {detail}',
              flush=True)
        rows.append((mutation, verdict, detail, seconds))
    print('\n| mutation | claim broken | verdict | first failing test | s |')
    print('|---|---|---|---|---|')
    for mutation, verdict, detail, seconds in rows:
        print(f'| {mutation.name} | {mutation.claim} | {verdict} | '
              f'{detail} | {seconds:.0f} |')
    applicable = [r for r in rows if r[1] != 'n/a']
    return 0 if all(r[1] == 'caught' for r in applicable) else 1


if __name__ == '__main__':
    sys.exit(main())
