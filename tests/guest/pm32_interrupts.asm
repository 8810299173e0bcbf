; pm32_interrupts -- interrupts and exceptions through a 32-bit protected-mode IDT (pm32.inc:
; 32-bit interrupt gates, handlers return with IRETD). A #DE from DIV by zero: the gate gets
; vector 0, EIP of the DIV (a fault), CS = SEL_CODE32, and IF cleared by the interrupt gate;
; the handler resumes after the DIV. Then the PIT's IRQ0 through the 8259 (LAPIC in virtual
; wire, PICs remapped to 0x20/0x28): STI and HLT until 5 ticks on vector 0x20, EOI each, with
; the interrupted EFLAGS.IF = 1 in the frame. The long-mode tests cover the devices; this one
; keeps the 32-bit gate and IRETD path covered.
; kvm-host-limit: IRET at CPL0 in 32-bit protected mode fails in the host kernel's instruction emulator (kvm_pvm)
; boot: multiboot
; expect-exit: 33
; expect: pm32_interrupts: #DE vector 00 at the div, cs=0008, if=0 in handler, resumed after the div
; expect: ticks counted: 5 on vector 20, interrupted if=1
; expect: PASS
%include "multiboot.inc"
%include "pm32.inc"
%include "pic.inc"
%include "lapic.inc"
%include "wait.inc"

PIT_RELOAD equ 1193                     ; ~1 kHz
TICKS      equ 5
EFLAGS_IF  equ 1 << 9

main:
    ; --- #DE through a 32-bit interrupt gate ---
    SET_ISR 0, de_handler
    mov byte [de_vector], 0xff
    sti                                 ; the gate must clear IF for the handler
    xor ecx, ecx
    mov eax, 1
    xor edx, edx
de_fault:
    div ecx
de_resume:
    cli
    PRINT "pm32_interrupts: #DE vector "
    mov al, [de_vector]
    call put_hex8
    EXPECT_EQ al, 0
    cmp dword [de_eip], de_fault
    je .at_div
    PRINT " eip="
    mov eax, [de_eip]
    call put_hex32
    EXPECT_EQ eax, de_fault
.at_div:
    PRINT " at the div, cs="
    mov eax, [de_cs]
    call put_hex16
    EXPECT_EQ eax, SEL_CODE32
    PRINT ", if="
    mov eax, [de_if_in_handler]
    call put_hex4
    EXPECT_EQ eax, 0
    PRINTLN " in handler, resumed after the div"

    ; --- PIT IRQ0 through the 8259 ---
    call lapic_virtual_wire
    call pic_init
    SET_ISR PIC1_VECTOR + 0, irq0_handler
    OUTB PIT_CMD, 0x34                  ; channel 0, lobyte/hibyte, mode 2, binary
    OUTB PIT_CH0, PIT_RELOAD & 0xff
    OUTB PIT_CH0, PIT_RELOAD >> 8
    OUTB PIC1_DATA, 0xfe                ; unmask IRQ0 only
    WAIT_UNTIL_AT_LEAST ticks, TICKS
    OUTB PIC1_DATA, 0xff
    OUTB PIT_CMD, 0x30                  ; channel 0 to mode 0 without a count: stops it

    PRINT "ticks counted: "
    mov eax, [ticks]
    call put_dec
    EXPECT_EQ eax, TICKS
    PRINT " on vector 20, interrupted if="
    mov eax, [irq_if_seen]
    call put_hex4
    EXPECT_EQ eax, 1
    call put_crlf

    TEST_DONE

; de_handler: records what the gate delivered, then resumes after the DIV (EDI -> frame).
de_handler:
    mov eax, [edi + FRAME32_VECTOR]
    mov [de_vector], al
    mov eax, [edi + FRAME32_EIP]
    mov [de_eip], eax
    mov eax, [edi + FRAME32_CS]
    and eax, 0xffff
    mov [de_cs], eax
    pushfd
    pop eax
    shr eax, 9
    and eax, 1
    mov [de_if_in_handler], eax
    mov dword [edi + FRAME32_EIP], de_resume
    ret

irq0_handler:
    ; Count no further than TICKS: a host that stalls between the last wanted tick and the
    ; masking (a loaded CI machine) would otherwise let one more in.
    cmp dword [ticks], TICKS
    jae .counted
    inc dword [ticks]
.counted:
    mov eax, [edi + FRAME32_EFLAGS]
    shr eax, 9
    and eax, 1
    mov [irq_if_seen], eax
    jmp pic_eoi_master

section .bss
ticks:            resd 1
irq_if_seen:      resd 1
de_eip:           resd 1
de_cs:            resd 1
de_if_in_handler: resd 1
de_vector:        resb 1
section .text

IMAGE_END
