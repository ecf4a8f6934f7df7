# Copyright (c) mmltml contributors. All rights reserved.
"""What a benchmark ran on: versions, device, threads, CPU, load."""
import os
import platform

import torch


def machine_info(device: torch.device) -> dict:
    """Python / torch / open_clip versions, device, torch threads, CPU
    model and count, GPU name, and the load average (other processes slow
    CPU timings)."""
    import open_clip
    info = dict(python=platform.python_version(), torch=torch.__version__,
                open_clip=open_clip.__version__, device=str(device),
                torch_threads=torch.get_num_threads(),
                cpu_count=os.cpu_count(), cpu_model=platform.processor())
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    info['cpu_model'] = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    if device.type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(device)
    if hasattr(os, 'getloadavg'):
        info['load_average_1_5_15min'] = [round(x, 2)
                                          for x in os.getloadavg()]
    return info
