# Copyright (c) mmltml contributors. All rights reserved.
"""Install mmltml, the OpenMMLab plugin for long-tailed multi-label recognition.

``mmcv`` is satisfied by either the full ``mmcv`` (if the user already has it)
or ``mmcv-lite`` (installed otherwise): mmltml and mmpretrain need no compiled
mmcv ops.
"""
import os.path as osp
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


def get_version() -> str:
    scope: dict = {}
    with open(osp.join(HERE, 'mmltml', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


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
    extras_require={'tests': read_requirements('tests')},
    license='Apache License 2.0',
    zip_safe=False,
)
