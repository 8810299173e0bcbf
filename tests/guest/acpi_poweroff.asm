; acpi_poweroff -- the ACPI path an OS uses to power off: find the RSDP in the BIOS area
; (0xE0000-0xFFFFF, 16-byte steps, checksum), follow the RSDT to the FADT (checksum) and the MADT
; (IOAPIC address), read PM1a_CNT from the FADT and SLP_TYPa from the DSDT's \_S5_ package, then
; write SLP_TYPa | SLP_EN to PM1a_CNT: the machine must power off with exit status 0. As an OS
; does, ACPI mode is first enabled through the FADT's SMI_CMD port if PM1a_CNT.SCI_EN is clear
; (Janus is always in ACPI mode and has no SMI_CMD; SeaBIOS under QEMU needs it). Everything
; is read from the tables, so QEMU's (SeaBIOS) tables work the same way.
; boot: multiboot
; qemu-differs: QEMU 7.2 (SeaBIOS tables, \_S5 type 0) reads these tables identically but does not power off on this write from a Multiboot guest; not investigated
; expect-exit: 0
; expect: acpi_poweroff: RSDP found, checksum ok
; expect: FADT found, checksum ok, PM1a_CNT 0604
; expect: MADT found, IOAPIC at FEC00000
; expect: DSDT \_S5_ found
; expect: writing SLP_TYPa|SLP_EN 3400
%include "multiboot.inc"
%include "long_mode.inc"
bits 64

; sum_bytes rsi=start rcx=length -> al = byte sum
sum_bytes:
    xor eax, eax
.loop:
    add al, [rsi]
    inc rsi
    dec rcx
    jnz .loop
    ret

; find_table ebx=signature -> rsi = table (0 if absent), searching the RSDT at [rsdt]
find_table:
    mov rdi, [rsdt]
    mov ecx, [rdi + 4]              ; RSDT length
    sub ecx, 36
    shr ecx, 2                      ; number of 32-bit entries
    lea rdx, [rdi + 36]
.next:
    test ecx, ecx
    jz .none
    mov esi, [rdx]
    cmp [rsi], ebx
    je .found
    add rdx, 4
    dec ecx
    jmp .next
.none:
    xor esi, esi
.found:
    ret

main:
    PRINT "acpi_poweroff: "
    mov rsi, 0xe0000
.scan:
    mov rax, 'RSD PTR '
    cmp [rsi], rax
    je .rsdp
    add rsi, 16
    cmp rsi, 0x100000
    jb .scan
    PRINTLN "no RSDP"
    EXIT EXIT_FAIL
.rsdp:
    mov r12, rsi
    mov ecx, 20
    call sum_bytes
    PRINT "RSDP found, checksum "
    test al, al
    jnz .bad_rsdp
    PRINTLN "ok"
    jmp .rsdt
.bad_rsdp:
    PRINTLN "bad"
    EXIT EXIT_FAIL
.rsdt:
    mov eax, [r12 + 16]
    mov [rsdt], rax

    mov ebx, 'FACP'
    call find_table
    test rsi, rsi
    jz .fail
    mov r13, rsi
    mov ecx, [r13 + 4]
    call sum_bytes
    EXPECT_EQ al, 0
    PRINT "FADT found, checksum ok, PM1a_CNT "
    mov eax, [r13 + 64]
    mov [pm1a_cnt], eax
    call put_hex16
    call put_crlf
    mov edx, [pm1a_cnt]
    in ax, dx
    test al, 1                      ; SCI_EN: already in ACPI mode
    jnz .acpi_mode
    mov edx, [r13 + 48]             ; SMI_CMD
    test edx, edx
    jz .acpi_mode
    mov al, [r13 + 52]              ; ACPI_ENABLE
    out dx, al
.acpi_mode:

    mov ebx, 'APIC'
    call find_table
    test rsi, rsi
    jz .fail
    mov ecx, [rsi + 4]
    lea rdx, [rsi + rcx]            ; end of the MADT
    add rsi, 44                     ; first interrupt controller structure
.madt:
    cmp rsi, rdx
    jae .fail
    cmp byte [rsi], 1               ; type 1: I/O APIC
    je .ioapic
    movzx eax, byte [rsi + 1]
    test eax, eax
    jz .fail
    add rsi, rax
    jmp .madt
.ioapic:
    PRINT "MADT found, IOAPIC at "
    mov eax, [rsi + 4]
    call put_hex32
    call put_crlf

    mov esi, [r13 + 40]             ; FADT.DSDT (32-bit)
    mov ecx, [rsi + 4]
    lea rdx, [rsi + rcx]
.s5:
    cmp rsi, rdx
    jae .fail
    cmp dword [rsi], '_S5_'
    je .s5_found
    inc rsi
    jmp .s5
.s5_found:
    PRINTLN "DSDT \_S5_ found"
    ; _S5_ 12 (PackageOp) pkglen numelements then SLP_TYPa: 0A nn (BytePrefix), or 00/01 (Zero/One)
    movzx eax, byte [rsi + 7]
    cmp al, 0x0a
    jne .have_type
    movzx eax, byte [rsi + 8]
.have_type:
    and eax, 7
    shl eax, 10                     ; SLP_TYPa
    or eax, 1 << 13                 ; SLP_EN
    PRINT "writing SLP_TYPa|SLP_EN "
    call put_hex16
    call put_crlf
    mov edx, [pm1a_cnt]
    out dx, ax
    ; Only reached if the machine did not power off.
    PRINTLN "still running after S5"
.fail:
    EXIT EXIT_FAIL

section .bss
rsdt: resq 1
pm1a_cnt: resd 1
section .text

IMAGE_END
