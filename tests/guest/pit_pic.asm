; pit_pic -- timer interrupts through the 8259 pair in 64-bit long mode: remap the PICs
; to 0x20/0x28, PIT channel 0 in mode 2 at ~1 kHz (reload 1193), unmask IRQ0, STI and HLT
; until 10 ticks, EOI each. The handler checks the master's ISR (OCW3 read) shows IRQ0 in
; service. Then the counter is latched (control word 0x00) and must lie in 1..1193, and the
; read-back command returns channel 0's status (access lo/hi, mode 2, binary = 0x34).
; The LAPIC is put in virtual-wire mode first (LINT0 = ExtINT), as firmware leaves it.
; boot: multiboot
; expect-exit: 33
; expect: pit_pic: 8259 at 20/28, PIT ch0 mode 2 reload 1193
; expect: ticks counted: 10 on vector 20
; expect: master isr in handler: 01
; expect: pit latch: 3 reads within 1..1193
; expect: pit read-back status (low 6 bits): 34
; expect: PASS
%include "multiboot.inc"
%include "long_mode.inc"
bits 64
%include "pic.inc"
%include "lapic.inc"
%include "wait.inc"

PIT_RELOAD equ 1193                     ; 1193182 Hz / 1193 ~ 1000 Hz
TICKS      equ 10

main:
    call lapic_virtual_wire
    call pic_init
    SET_ISR64 PIC1_VECTOR + 0, irq0_handler
    PRINTLN "pit_pic: 8259 at 20/28, PIT ch0 mode 2 reload 1193"

    OUTB PIT_CMD, 0x34                  ; channel 0, lobyte/hibyte, mode 2, binary
    OUTB PIT_CH0, PIT_RELOAD & 0xff
    OUTB PIT_CH0, PIT_RELOAD >> 8
    OUTB PIC1_DATA, 0xfe                ; unmask IRQ0 only
    WAIT_UNTIL_AT_LEAST ticks, TICKS
    OUTB PIC1_DATA, 0xff

    PRINT "ticks counted: "
    mov eax, [ticks]
    call put_dec
    EXPECT_EQ eax, TICKS
    PRINTLN " on vector 20"
    PRINT "master isr in handler: "
    mov al, [isr_in_handler]
    call put_hex8
    EXPECT_EQ al, 0x01
    call put_crlf

    ; --- latch and read the running counter ---
    mov ecx, 3
    xor ebx, ebx                        ; reads in range
.latch:
    OUTB PIT_CMD, 0x00                  ; counter latch, channel 0
    INB PIT_CH0
    mov ah, al
    in al, dx
    xchg al, ah                         ; AX = count (low byte first)
    cmp ax, 1
    jb .out_of_range
    cmp ax, PIT_RELOAD
    ja .out_of_range
    inc ebx
    jmp .next
.out_of_range:
    PRINT "pit latch read out of range: "
    call put_hex16
    call put_crlf
.next:
    loop .latch
    PRINT "pit latch: "
    mov eax, ebx
    call put_dec
    EXPECT_EQ eax, 3
    PRINTLN " reads within 1..1193"

    OUTB PIT_CMD, 0xe2                  ; read-back: status only, channel 0
    INB PIT_CH0
    and al, 0x3f                        ; drop OUTPUT and NULL COUNT (timing-dependent)
    PRINT "pit read-back status (low 6 bits): "
    call put_hex8
    EXPECT_EQ al, 0x34
    call put_crlf

    TEST_DONE

irq0_handler:
    ; Count no further than TICKS: a host that stalls between the last wanted tick and the
    ; masking (a loaded CI machine) would otherwise let one more in.
    cmp dword [ticks], TICKS
    jae .eoi
    inc dword [ticks]
    cmp dword [ticks], 1
    jne .eoi
    OUTB PIC1_CMD, 0x0b                 ; OCW3: next read of port 0x20 returns ISR
    INB PIC1_CMD
    mov [isr_in_handler], al
    OUTB PIC1_CMD, 0x0a                 ; back to reading IRR
.eoi:
    jmp pic_eoi_master

section .bss
ticks:          resd 1
isr_in_handler: resb 1
section .text

IMAGE_END
