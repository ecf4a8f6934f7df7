# Copyright (c) mmltml contributors. All rights reserved.
"""Install mmltml, the OpenMMLab plugin for long-tailed multi-label recognition.

``mmcv`` is satisfied by either the full ``mmcv`` (if the user already has it)
or ``mmcv-lite`` (installed otherwise): mmltml and mmpretrain need no compiled
mmcv ops.

As every OpenMMLab package, mmltml ships its configs, tools and model index
in ``mmltml/.mim`` (copied into wheels and sdists, symlinked for editable
installs), where ``mim search / train / test mmltml`` and mmpretrain's model
hub find them.
"""
import os
import os.path as osp
import shutil
import sys
from importlib import metadata

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_requirements(name: str) -> list:
    """Return the non-comment lines of ``requirements/<name>.txt``."""
    with open(osp.join(HERE, 'requirements', f'{name}.txt')) as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line]


def mmcv_requirement() -> str:
    """Keep a user's full mmcv; otherwise ask for mmcv-lite."""
    try:
        metadata.version('mmcv')
        return 'mmcv>=2.0.0,<2.4.0'
    except metadata.PackageNotFoundError:
        return 'mmcv-lite>=2.0.0,<2.4.0'


MIM_FILES = ('configs', 'tools', 'model-index.yml')


def add_mim_extension() -> None:
    """Put configs, tools and the model index into ``mmltml/.mim``.

    Symlinks for ``develop`` / editable installs, copies when building a
    wheel or an sdist; nothing for other commands.
    """
    if 'develop' in sys.argv or 'editable_wheel' in sys.argv:
        mode = 'symlink'
    elif {'sdist', 'bdist_wheel', 'build'} & set(sys.argv):
        mode = 'copy'
    else:
        return
    mim_path = osp.join(HERE, 'mmltml', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for name in MIM_FILES:
        src, dst = osp.join(HERE, name), osp.join(mim_path, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if mode == 'symlink':
            os.symlink(osp.relpath(src, mim_path), dst)
        elif osp.isdir(src):
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns(
                '__pycache__', '*.pyc'))
        else:
            shutil.copyfile(src, dst)


def get_version() -> str:
    scope: dict = {}
    with open(osp.join(HERE, 'mmltml', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


add_mim_extension()
setup(
    name='mmltml',
    version=get_version(),
    description='Long-tailed multi-label recognition with vision-language '
    'models, as an OpenMMLab (mmpretrain) plugin',
    long_description=open(osp.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'docs')),
    include_package_data=True,
    package_data={'mmltml': ['py.typed']},
    python_requires='>=3.10',
    install_requires=read_requirements('runtime') + [mmcv_requirement()],
    extras_require={
        'tests': read_requirements('tests'),
        'tensorboard': ['tensorboard'],
        'wandb': ['wandb'],
        'mlflow': ['mlflow'],
        'mim': ['openmim', 'setuptools<81'],  # mim imports pkg_resources
        # tools/misc/gradio_demo.py; gradio 6.31 needs pillow < 13
        'demo': ['gradio==6.31.0'],
    },
    license='Apache License 2.0',
    zip_safe=False,
)
