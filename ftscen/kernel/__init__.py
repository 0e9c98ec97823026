"""Stage: scenarios on a real Linux kernel (a generated module, booted under QEMU) and the
differential check of the model against what that kernel did."""
