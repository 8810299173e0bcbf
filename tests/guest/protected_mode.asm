; protected_mode -- from the reset vector to 32-bit protected mode without firmware: LGDT
; (GDT in ROM, accessed bits preset), CR0.PE, far jump to a flat 32-bit code segment, then
; 32-bit arithmetic, string instructions, memory above 1 MiB and a data segment with a
; non-zero base.
; boot: bios
; expect-exit: 33
; expect: protected_mode: cs=0008 ds=0010 cr0.pe=1
; expect: mul 12345678*9ABCDEF0 = 0B00EA4E242D2080
; expect: imul -123456789*98765 = FFFFF4E90C10312F
; expect: div 0B00EA4E242D2080/9ABCDEF0 = 12345678 rem 00000000
; expect: sum 1..1000 = 500500
; expect: bsf 00080010 = 4, bsr 00080010 = 19
; expect: rep movsd ROM->RAM, repe cmpsd: equal
; expect: RAM at 0x200000: DEADBEEF
; expect: segment base 0x10000: [0] = 5A (linear 0x10000)
; expect: PASS
%define ROM_NO_SERIAL16
%include "rom.inc"

SEL_CODE  equ 0x08
SEL_FLAT  equ 0x10
SEL_BASED equ 0x18                      ; data, base 0x10000, limit 0xFFFF

rom_main:                               ; 16-bit real mode, CS = F000
    o32 lgdt [cs:gdt_desc]
    mov eax, cr0
    or eax, 1                           ; PE
    mov cr0, eax
    jmp dword SEL_CODE:pm_entry         ; loads CS from the GDT: 32-bit code from here

gdt_desc:
    dw gdt_end - gdt - 1
    dd gdt                              ; linear (in .text32)

section .text32
bits 32
align 8
gdt:
    dq 0
    dq 0x00cf9b000000ffff               ; 0x08 code, flat, 32-bit
    dq 0x00cf93000000ffff               ; 0x10 data, flat
    dq 0x000093010000ffff               ; 0x18 data, base 0x10000, limit 0xFFFF, byte granular
gdt_end:

pm_entry:
    mov ax, SEL_FLAT
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, ROM_STACK_TOP
    call com1_init

    PRINT "protected_mode: cs="
    mov ax, cs
    call put_hex16
    EXPECT_EQ ax, SEL_CODE
    PRINT " ds="
    mov ax, ds
    call put_hex16
    EXPECT_EQ ax, SEL_FLAT
    PRINT " cr0.pe="
    mov eax, cr0
    and eax, 1
    call put_hex4
    EXPECT_EQ eax, 1
    call put_crlf

    ; --- 32-bit multiply and divide ---
    mov eax, 0x12345678
    mov ecx, 0x9abcdef0
    mul ecx
    PRINT "mul 12345678*9ABCDEF0 = "
    xchg eax, edx
    call put_hex32
    EXPECT_EQ eax, 0x0b00ea4e
    xchg eax, edx
    call put_hex32
    EXPECT_EQ eax, 0x242d2080
    call put_crlf

    push eax
    push edx
    mov eax, -123456789
    mov ecx, 98765
    imul ecx
    PRINT "imul -123456789*98765 = "
    xchg eax, edx
    call put_hex32
    EXPECT_EQ eax, 0xfffff4e9
    xchg eax, edx
    call put_hex32
    EXPECT_EQ eax, 0x0c10312f
    call put_crlf

    pop edx
    pop eax
    mov ecx, 0x9abcdef0
    div ecx                             ; undo the MUL above
    PRINT "div 0B00EA4E242D2080/9ABCDEF0 = "
    call put_hex32
    EXPECT_EQ eax, 0x12345678
    PRINT " rem "
    mov eax, edx
    call put_hex32
    EXPECT_EQ eax, 0
    call put_crlf

    ; --- a loop ---
    xor eax, eax
    mov ecx, 1000
.sum:
    add eax, ecx
    loop .sum
    PRINT "sum 1..1000 = "
    call put_dec
    EXPECT_EQ eax, 500500
    call put_crlf

    ; --- bit scans ---
    mov edx, 0x00080010
    PRINT "bsf 00080010 = "
    bsf eax, edx
    call put_dec
    EXPECT_EQ eax, 4
    PRINT ", bsr 00080010 = "
    bsr eax, edx
    call put_dec
    EXPECT_EQ eax, 19
    call put_crlf

    ; --- string instructions: copy 16 bytes of ROM to RAM and compare ---
    cld
    mov esi, pattern
    mov edi, 0x6000
    mov ecx, 4
    rep movsd
    mov esi, pattern
    mov edi, 0x6000
    mov ecx, 4
    repe cmpsd
    setne bl                            ; PRINT clobbers the flags
    PRINT "rep movsd ROM->RAM, repe cmpsd: "
    EXPECT_EQ ecx, 0
    test bl, bl
    jnz .differ
    PRINTLN "equal"
    jmp .strings_done
.differ:
    PRINTLN "DIFFERENT"
    EXPECT_EQ bl, 0                     ; fails here: records the line
.strings_done:

    ; --- flat addressing above 1 MiB (bit 20 clear, so the A20 gate does not matter) ---
    mov dword [0x200000], 0xdeadbeef
    PRINT "RAM at 0x200000: "
    mov eax, [0x200000]
    call put_hex32
    EXPECT_EQ eax, 0xdeadbeef
    call put_crlf

    ; --- a data segment with base 0x10000 ---
    mov byte [0x10000], 0x5a
    mov ax, SEL_BASED
    mov es, ax
    PRINT "segment base 0x10000: [0] = "
    mov al, [es:0]
    call put_hex8
    EXPECT_EQ al, 0x5a
    PRINTLN " (linear 0x10000)"
    mov ax, SEL_FLAT
    mov es, ax

    TEST_DONE

pattern:
    dd 0x01234567, 0x89abcdef, 0xfedcba98, 0x76543210

%include "serial32.inc"

IMAGE_END
