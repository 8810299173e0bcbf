#include "cpu/cpuid.h"

#include <cstring>
#include <string_view>
#include <utility>

namespace janus {

const CpuidEntry* CpuidTable::find(uint32_t function, uint32_t index) const {
  for (const auto& e : entries_)
    if (e.function == function && (!e.indexed || e.index == index)) return &e;
  return nullptr;
}

CpuidEntry* CpuidTable::find(uint32_t function, uint32_t index) {
  return const_cast<CpuidEntry*>(std::as_const(*this).find(function, index));
}

CpuidResult CpuidTable::query(uint32_t function, uint32_t index) const {
  const CpuidEntry* leaf0 = find(0, 0);
  const CpuidEntry* ext0 = find(0x80000000, 0);
  uint32_t max_basic = leaf0 ? leaf0->regs.eax : 0;
  uint32_t max_ext = ext0 ? ext0->regs.eax : 0x80000000;
  bool extended = function >= 0x80000000;
  bool hypervisor_range = function >= 0x40000000 && function < 0x50000000;
  if (!hypervisor_range && ((extended && function > max_ext) || (!extended && function > max_basic)))
    function = max_basic;  // Intel: out-of-range leaves answer as the highest basic leaf
  if (const CpuidEntry* e = find(function, index)) return e->regs;
  return {};
}

namespace {

uint32_t chars4(std::string_view s, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v |= uint32_t(static_cast<uint8_t>(at + i < s.size() ? s[at + i] : 0)) << (8 * i);
  return v;
}

}  // namespace

CpuidTable janus_cpuid_template() {
  using namespace cpuid_bits;
  std::vector<CpuidEntry> t;
  auto add = [&](uint32_t fn, uint32_t idx, bool indexed, CpuidResult r) { t.push_back({fn, idx, indexed, r}); };

  // Leaf 0: max basic leaf and vendor "GenuineIntel" (EBX, EDX, ECX order).
  add(0, 0, false, {0x1, chars4("GenuineIntel", 0), chars4("GenuineIntel", 8), chars4("GenuineIntel", 4)});
  // Leaf 1: family 6 model 15 stepping 1; 64-byte CLFLUSH line, 1 logical CPU, APIC ID 0.
  add(1, 0, false,
      {0x000006f1, (8u << 8) | (1u << 16), 0,
       FPU | PSE | TSC | MSR | PAE | CX8 | APIC | SEP | PGE | CMOV | PAT | FXSR | SSE | SSE2});
  add(0x80000000, 0, false, {0x80000008, 0, 0, 0});
  add(0x80000001, 0, false, {0, 0, LAHF_LM, SYSCALL | NX | LM});
  constexpr std::string_view brand = "Janus Virtual CPU";
  for (uint32_t i = 0; i < 3; ++i)
    add(0x80000002 + i, 0, false,
        {chars4(brand, 16 * i), chars4(brand, 16 * i + 4), chars4(brand, 16 * i + 8), chars4(brand, 16 * i + 12)});
  // Physical address bits 40, linear 48.
  add(0x80000008, 0, false, {(48u << 8) | 40u, 0, 0, 0});
  return CpuidTable(std::move(t));
}

}  // namespace janus
