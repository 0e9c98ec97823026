"""Stage 3: the image run on Unicorn with the modelled kernel driving it -> a RunResult.

``machine`` is the emulated i386 machine (Unicorn lives in this module only), ``patcher`` the
modelled ftrace core and x86 patching code, ``events`` decodes the event ring into the
callback log, ``run`` drives the timeline.
"""
