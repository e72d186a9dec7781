"""Run a Python module under cProfile switched on and off by signals (for bench/peers.py).

``python profiled.py OUT.prof MODULE ARGS...`` runs MODULE as ``__main__``;
SIGUSR1 starts profiling the main thread (a server's event loop), SIGUSR2
stops it and writes OUT.prof, so start-up and shut-down stay out of the profile.
"""

import cProfile
import runpy
import signal
import sys

out, module = sys.argv[1], sys.argv[2]
profiler = cProfile.Profile()


def _start(*_):
    profiler.enable()


def _stop(*_):
    profiler.disable()
    profiler.dump_stats(out)


signal.signal(signal.SIGUSR1, _start)
signal.signal(signal.SIGUSR2, _stop)
sys.argv = [module, *sys.argv[3:]]
runpy.run_module(module, run_name="__main__", alter_sys=True)
