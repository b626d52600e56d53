"""The firmware target's tools (Cortex-M4F, QEMU's mps2-an386; docs/build.md, "The firmware target").

* ``inputs``  the log the example firmware replays, as C (example_input.c)
* ``qemu``    run an image under QEMU; check its verdicts against alog-engine's; measure the
              arena and detector sizes on the device
* ``budget``  flash and RAM from the linked image, held to the budgets
* ``stack``   the worst-case stack depth from gcc's -fstack-usage and call graph
"""
