; exit_now -- a Multiboot guest that exits through isa-debug-exit (status 33) as soon as it
; runs: the emulator's fixed start-up cost (for QEMU: SeaBIOS loading the -kernel first), to
; be subtracted from a benchmark guest's time.
%include "multiboot.inc"

bits 32
boot_continue:
    EXIT EXIT_PASS

IMAGE_END
