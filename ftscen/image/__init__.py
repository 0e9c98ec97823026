"""Stage 2: Scenario + kernel profile -> the i386 image (Keystone lives here, Capstone too).

``layout`` is the memory map shared by code and host, ``asm`` the modelled kernel's text as
assembly, ``build`` assembles it into an :class:`~ftscen.image.build.Image` with its
``symbols``; ``listing`` shows an image (or a machine's memory) disassembled.
"""
