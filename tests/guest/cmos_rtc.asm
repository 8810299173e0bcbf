; cmos_rtc -- the MC146818 RTC behind ports 0x70/0x71, in 64-bit long mode: register D
; bit 7 (valid RAM and time), update-ended interrupts (register B bit 4) on IRQ8 through the
; slave 8259 (register C shows IRQF|UF), a BCD time and date in range with century 20 read
; right after an update with UIP clear, the seconds advancing by exactly one from one update
; to the next, and binary mode (register B bit 2) agreeing with BCD. Only "ok"-style lines
; are printed: the time itself differs from run to run.
; boot: multiboot
; expect-exit: 33
; expect: cmos_rtc: register D VRT 1
; expect: update-ended interrupt on vector 28, register C & 90: 90
; expect: bcd time and date valid, century 20
; expect: seconds advanced by exactly one between two updates
; expect: binary mode matches bcd for 6 fields
; expect: update-ended interrupts counted: 2
; expect: PASS
%include "multiboot.inc"
%include "long_mode.inc"
bits 64
%include "pic.inc"
%include "lapic.inc"
%include "wait.inc"

RTC_SECONDS equ 0x00
RTC_MINUTES equ 0x02
RTC_HOURS   equ 0x04
RTC_DAY     equ 0x07
RTC_MONTH   equ 0x08
RTC_YEAR    equ 0x09
RTC_REG_A   equ 0x0a
RTC_REG_B   equ 0x0b
RTC_REG_C   equ 0x0c
RTC_REG_D   equ 0x0d
RTC_CENTURY equ 0x32
REG_B_24H   equ 0x02
REG_B_DM    equ 0x04                    ; binary data mode
REG_B_UIE   equ 0x10
UIP         equ 0x80
POLL_LIMIT  equ 100000

; CMOS_READ index -> AL ; CMOS_WRITE index, value
%macro CMOS_READ 1
    OUTB CMOS_INDEX, %1
    INB CMOS_DATA
%endmacro
%macro CMOS_WRITE 2
    OUTB CMOS_INDEX, %1
    OUTB CMOS_DATA, %2
%endmacro

main:
    call lapic_virtual_wire
    call pic_init
    SET_ISR64 PIC2_VECTOR + 0, rtc_handler

    CMOS_WRITE RTC_REG_B, REG_B_24H     ; BCD, 24-hour, no interrupts
    PRINT "cmos_rtc: register D VRT "
    CMOS_READ RTC_REG_D
    shr al, 7
    call put_hex4
    EXPECT_EQ al, 1
    call put_crlf

    CMOS_READ RTC_REG_C                 ; clear stale flags
    CMOS_WRITE RTC_REG_B, REG_B_24H | REG_B_UIE
    OUTB PIC2_DATA, 0xfe                ; IRQ8
    OUTB PIC1_DATA, 0xfb                ; cascade (IRQ2)
    WAIT_UNTIL_AT_LEAST rtc_irqs, 1
    PRINT "update-ended interrupt on vector 28, register C & 90: "
    mov al, [reg_c_seen]
    and al, 0x90
    call put_hex8
    EXPECT_EQ al, 0x90
    call put_crlf

    ; --- just after an update: a whole second to read a consistent time ---
    call wait_uip_clear
    mov rdi, bcd_fields
    call read_fields
    CMOS_READ RTC_CENTURY
    mov [century], al
    xor ebx, ebx                        ; number of fields in range
    mov rsi, bcd_fields
    mov rdi, field_limits
    mov ecx, 6
.validate:
    mov al, [rsi]
    call bcd_to_binary
    jc .bad_field
    cmp al, [rdi]                       ; minimum
    jb .bad_field
    cmp al, [rdi + 1]                   ; maximum
    ja .bad_field
    inc ebx
    jmp .next_field
.bad_field:
    PRINT "field "
    mov eax, 6
    sub eax, ecx
    call put_dec
    PRINT " out of range: "
    mov al, [rsi]
    call put_hex8
    call put_crlf
.next_field:
    inc rsi
    add rdi, 2
    loop .validate
    PRINT "bcd time and date "
    cmp ebx, 6
    je .fields_ok
    PRINT "NOT "
.fields_ok:
    EXPECT_EQ ebx, 6
    PRINT "valid, century "
    mov al, [century]
    call put_hex8
    EXPECT_EQ al, 0x20
    call put_crlf

    ; --- the next update advances the seconds by one ---
    mov bl, [bcd_fields + 0]            ; seconds before
    WAIT_UNTIL_AT_LEAST rtc_irqs, 2
    call wait_uip_clear
    mov rdi, bcd_fields
    call read_fields
    mov al, bl
    call bcd_to_binary
    inc al
    cmp al, 60
    jb .no_wrap
    xor al, al
.no_wrap:
    mov bh, al                          ; expected seconds, binary
    mov al, [bcd_fields + 0]
    call bcd_to_binary
    cmp al, bh
    jne .not_one
    PRINTLN "seconds advanced by exactly one between two updates"
    jmp .binary_mode
.not_one:
    PRINT "seconds went from "
    mov al, bl
    call put_hex8
    PRINT " to "
    mov al, [bcd_fields + 0]
    call put_hex8
    EXPECT_EQ al, -1                    ; fails: records it
    call put_crlf

    ; --- binary mode: the same time, without BCD ---
.binary_mode:
    CMOS_WRITE RTC_REG_B, REG_B_24H | REG_B_DM
    mov rdi, binary_fields
    call read_fields
    CMOS_WRITE RTC_REG_B, REG_B_24H
    xor ebx, ebx
    xor ecx, ecx
.compare:
    mov al, [bcd_fields + rcx]
    call bcd_to_binary
    cmp al, [binary_fields + rcx]
    jne .differs
    inc ebx
.differs:
    inc ecx
    cmp ecx, 6
    jb .compare
    PRINT "binary mode matches bcd for "
    mov eax, ebx
    call put_dec
    EXPECT_EQ eax, 6
    PRINTLN " fields"

    OUTB PIC2_DATA, 0xff
    OUTB PIC1_DATA, 0xff
    PRINT "update-ended interrupts counted: "
    mov eax, [rtc_irqs]
    call put_dec
    EXPECT_EQ eax, 2
    call put_crlf

    TEST_DONE

; read_fields: seconds, minutes, hours, day, month, year -> 6 bytes at RDI. Preserves regs.
read_fields:
    push rax
    push rcx
    push rdx
    push rsi
    push rdi
    mov rsi, field_index
    mov ecx, 6
.next:
    mov al, [rsi]
    mov dx, CMOS_INDEX
    out dx, al
    INB CMOS_DATA
    mov [rdi], al
    inc rsi
    inc rdi
    loop .next
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rax
    ret

; wait_uip_clear: poll register A until UIP = 0 (bounded; counts a failure on timeout).
wait_uip_clear:
    push rax
    push rcx
    push rdx
    mov ecx, POLL_LIMIT
.poll:
    CMOS_READ RTC_REG_A
    test al, UIP
    jz .done
    loop .poll
    PRINT "UIP stuck"
    EXPECT_EQ ecx, 1                    ; fails: records it
    call put_crlf
.done:
    pop rdx
    pop rcx
    pop rax
    ret

; bcd_to_binary: AL (BCD) -> AL (binary); CF = 1 if a digit is above 9.
bcd_to_binary:
    push rbx
    mov bl, al
    and bl, 0x0f
    cmp bl, 9
    ja .bad
    shr al, 4
    cmp al, 9
    ja .bad
    mov bh, 10
    mul bh                              ; AX = tens * 10
    add al, bl
    pop rbx
    clc
    ret
.bad:
    pop rbx
    stc
    ret

; rtc_handler: IRQ8. Reading register C acknowledges the interrupt (and lets the next come).
rtc_handler:
    inc dword [rtc_irqs]
    CMOS_READ RTC_REG_C
    cmp dword [rtc_irqs], 1
    jne .eoi
    mov [reg_c_seen], al
.eoi:
    jmp pic_eoi_slave

field_index:  db RTC_SECONDS, RTC_MINUTES, RTC_HOURS, RTC_DAY, RTC_MONTH, RTC_YEAR
field_limits: db 0, 59,  0, 59,  0, 23,  1, 31,  1, 12,  0, 99     ; binary min, max

section .bss
rtc_irqs:      resd 1
reg_c_seen:    resb 1
century:       resb 1
bcd_fields:    resb 6
binary_fields: resb 6
section .text

IMAGE_END
