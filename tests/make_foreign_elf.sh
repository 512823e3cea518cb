#!/usr/bin/env bash
# make_foreign_elf.sh OUTPUT: write a minimal, valid static aarch64 ELF executable
# (ELF header, one PT_LOAD, and the code "mov x8, #93; svc #0": exit(0) on an arm64
# Linux). elfuse must refuse it: it runs x86_64 programs only. No cross compiler needed.
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: make_foreign_elf.sh OUTPUT" >&2; exit 2; }

hex=(
  # e_ident: magic, ELFCLASS64, ELFDATA2LSB, EV_CURRENT, ELFOSABI_SYSV, padding
  7f 45 4c 46 02 01 01 00 00 00 00 00 00 00 00 00
  02 00                   # e_type ET_EXEC
  b7 00                   # e_machine EM_AARCH64 (183)
  01 00 00 00             # e_version
  78 00 40 00 00 00 00 00 # e_entry 0x400078
  40 00 00 00 00 00 00 00 # e_phoff 64
  00 00 00 00 00 00 00 00 # e_shoff
  00 00 00 00             # e_flags
  40 00                   # e_ehsize
  38 00                   # e_phentsize
  01 00                   # e_phnum
  40 00                   # e_shentsize
  00 00                   # e_shnum
  00 00                   # e_shstrndx
  # program header: PT_LOAD, PF_R|PF_X, offset 0, vaddr = paddr = 0x400000,
  # filesz = memsz = 0x80, align 0x1000
  01 00 00 00 05 00 00 00
  00 00 00 00 00 00 00 00
  00 00 40 00 00 00 00 00
  00 00 40 00 00 00 00 00
  80 00 00 00 00 00 00 00
  80 00 00 00 00 00 00 00
  00 10 00 00 00 00 00 00
  # code at 0x78: mov x8, #93 (exit); svc #0
  a8 0b 80 d2 01 00 00 d4
)
fmt=
for b in "${hex[@]}"; do fmt+="\\x$b"; done
# shellcheck disable=SC2059  # the \x escapes in the format are the data
printf "$fmt" >"$1"
chmod 755 "$1"
