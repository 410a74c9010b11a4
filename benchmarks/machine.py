"""One line naming the machine a benchmark measured on.

The lab's 2-core machines are not all alike (an AMD EPYC and an Intel Xeon
differ 2.4x in MTNet-S's batch-1 latency), so timings name the CPU model, not
just the architecture.
"""

import os
import platform


def cpu_model():
    """The CPU's model name from /proc/cpuinfo, else what `platform` knows."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe():
    """E.g. 'Intel(R) Xeon(R) Processor, 2 cores, Python 3.11.7, TensorFlow 2.21.0,
    Keras 3.15.1' (the versions of whichever of the two are installed)."""
    parts = [cpu_model(), f"{os.cpu_count()} cores", f"Python {platform.python_version()}"]
    for name, label in (("tensorflow", "TensorFlow"), ("keras", "Keras")):
        try:
            parts.append(f"{label} {__import__(name).__version__}")
        except ImportError:
            pass
    return ", ".join(parts)
