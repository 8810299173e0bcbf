; pit_ioapic -- timer interrupts through the IOAPIC in 64-bit long mode: the 8259s are
; initialised and fully masked, the LAPIC enabled (SVR bit 8), and IOAPIC pin 2 (where the
; PIT's IRQ0 arrives, per the ACPI interrupt source override) routed to vector 0x30, edge,
; active high, fixed, physical destination = this CPU's APIC ID. HLT until 10 ticks, EOI to
; the LAPIC each; the handler checks the LAPIC ISR bit of vector 0x30. Also: the IOAPIC
; version register's maximum redirection entry (23: 24 pins) and the masked entry read back.
; boot: multiboot
; expect-exit: 33
; expect: pit_ioapic: ioapic max redirection entry 23
; expect: ticks counted: 10 on vector 30
; expect: lapic isr bit for 30 in handler: 1
; expect: redirection entry 2 after masking: 00010030
; expect: PASS
%include "multiboot.inc"
%include "long_mode.inc"
bits 64
%include "pic.inc"
%include "lapic.inc"
%include "wait.inc"

PIT_RELOAD equ 1193
TICKS      equ 10
VECTOR     equ 0x30
PIT_PIN    equ 2

main:
    call pic_init                       ; all 8259 lines masked
    call lapic_enable
    SET_ISR64 VECTOR, timer_handler

    PRINT "pit_ioapic: ioapic max redirection entry "
    IOAPIC_READ 1                       ; version register
    shr eax, 16
    and eax, 0xff
    call put_dec
    EXPECT_EQ eax, 23
    call put_crlf

    LAPIC_READ LAPIC_ID
    and eax, 0xff000000                 ; APIC ID in bits 31:24, as the entry wants it
    IOAPIC_WRITE 0x10 + 2 * PIT_PIN + 1, eax
    IOAPIC_WRITE 0x10 + 2 * PIT_PIN, VECTOR ; fixed, physical, high, edge, unmasked

    OUTB PIT_CMD, 0x34                  ; channel 0, lobyte/hibyte, mode 2, binary
    OUTB PIT_CH0, PIT_RELOAD & 0xff
    OUTB PIT_CH0, PIT_RELOAD >> 8
    WAIT_UNTIL_AT_LEAST ticks, TICKS
    IOAPIC_WRITE 0x10 + 2 * PIT_PIN, VECTOR | 0x10000

    PRINT "ticks counted: "
    mov eax, [ticks]
    call put_dec
    EXPECT_EQ eax, TICKS
    PRINTLN " on vector 30"
    PRINT "lapic isr bit for 30 in handler: "
    mov al, [isr_in_handler]
    call put_hex4
    EXPECT_EQ al, 1
    call put_crlf
    PRINT "redirection entry 2 after masking: "
    IOAPIC_READ 0x10 + 2 * PIT_PIN
    call put_hex32
    EXPECT_EQ eax, 0x00010030
    call put_crlf

    TEST_DONE

timer_handler:
    ; Count no further than TICKS: a host that stalls between the last wanted tick and the
    ; masking (a loaded CI machine) would otherwise let one more in.
    cmp dword [ticks], TICKS
    jae .eoi
    inc dword [ticks]
    cmp dword [ticks], 1
    jne .eoi
    LAPIC_READ LAPIC_ISR + (VECTOR / 32) * 0x10
    shr eax, VECTOR % 32
    and al, 1
    mov [isr_in_handler], al
.eoi:
    jmp lapic_eoi

section .bss
ticks:          resd 1
isr_in_handler: resb 1
section .text

IMAGE_END
