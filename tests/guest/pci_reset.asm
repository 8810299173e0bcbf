; pci_reset -- the PIIX3's reset control register at port 0xCF9, the way Linux's reboot=pci
; uses it: it reads 00 after power-on, keeps the reset type (bit 1) written as 02, and writing
; 06 (reset the CPU) resets the machine, which -no-reboot turns into exit status 0. Carrying on
; past that write is a failure. QEMU -M pc has the register too.
; boot: bios
; expect-exit: 0
; expect: pci_reset: cf9 00, after writing 02: 02
; expect: writing 06
%include "rom.inc"

RESET_CONTROL equ 0xcf9

rom_main:
    PRINT "pci_reset: cf9 "
    INB RESET_CONTROL
    call put_hex8
    EXPECT_EQ al, 0x00
    PRINT ", after writing 02: "
    OUTB RESET_CONTROL, 0x02
    INB RESET_CONTROL
    call put_hex8
    EXPECT_EQ al, 0x02
    call put_crlf
    cmp dword [FAIL_COUNTER], 0
    jne .done
    PRINTLN "writing 06"
    OUTB RESET_CONTROL, 0x06
    PRINTLN "still running after the reset write"
    inc dword [FAIL_COUNTER]
.done:
    TEST_DONE

IMAGE_END
