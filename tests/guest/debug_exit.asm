; debug_exit -- the isa-debug-exit device: the value written to port 0xf4 becomes the exit
; status (0x2a << 1) | 1 = 85, distinct from every other test's. Real mode from the reset vector.
; boot: bios
; expect-exit: 85
; expect: debug_exit: writing 0x2a to port 0xf4
%include "rom.inc"

rom_main:
    PRINTLN "debug_exit: writing 0x2a to port 0xf4"
    EXIT 0x2a

IMAGE_END
