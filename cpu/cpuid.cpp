#include "cpu/cpuid.h"

#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

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

CpuidResult cpuid_tsc_leaf(uint64_t tsc_hz) {
  if (tsc_hz == 0) return {};
  const uint64_t crystal_khz = kCpuidCrystalHz / 1000;
  const uint64_t max_numerator = 0xffffffffull / crystal_khz;
  // Nearest numerator/denominator to tsc_hz/crystal; on a tie the smaller denominator wins.
  uint64_t best_num = 0, best_den = 1;
  unsigned __int128 best_err_num = ~(unsigned __int128)0, best_err_den = 1;  // error = err_num / err_den
  for (uint64_t den = 1; den <= (1u << 20); den++) {
    uint64_t num = uint64_t(((unsigned __int128)tsc_hz * den + kCpuidCrystalHz / 2) / kCpuidCrystalHz);
    if (num > max_numerator) break;
    if (num == 0) continue;
    unsigned __int128 scaled = (unsigned __int128)num * kCpuidCrystalHz, target = (unsigned __int128)tsc_hz * den;
    unsigned __int128 err = scaled > target ? scaled - target : target - scaled;  // |num/den - x| = err / (den * crystal)
    if (err * best_err_den < best_err_num * den) {
      best_num = num, best_den = den, best_err_num = err, best_err_den = den;
      if (err == 0) break;
    }
  }
  if (best_num == 0) best_num = 1;  // a TSC slower than the crystal can express: still name the crystal
  return {uint32_t(best_den), uint32_t(best_num), uint32_t(kCpuidCrystalHz), 0};
}

void cap_max_basic_leaf(CpuidTable& table, uint32_t max_leaf) {
  CpuidEntry* leaf0 = table.find(0, 0);
  if (!leaf0 || leaf0->regs.eax <= max_leaf) return;
  leaf0->regs.eax = max_leaf;
  std::erase_if(table.entries(), [&](const CpuidEntry& e) { return e.function > max_leaf && e.function < 0x40000000; });
}

CpuidTable janus_cpuid_template(uint64_t tsc_hz) {
  using namespace cpuid_bits;
  std::vector<CpuidEntry> t;
  auto add = [&](uint32_t fn, uint32_t idx, bool indexed, CpuidResult r) { t.push_back({fn, idx, indexed, r}); };

  // Leaf 0: max basic leaf (0x16, for the frequency leaves) and vendor "GenuineIntel" (EBX, EDX,
  // ECX order). Leaves 2-0x14 are absent and read as zero: no caches, topology or extended
  // features described.
  add(0, 0, false, {0x16, chars4("GenuineIntel", 0), chars4("GenuineIntel", 8), chars4("GenuineIntel", 4)});
  // Leaf 1: family 6 model 15 stepping 1; 64-byte CLFLUSH line, 1 logical CPU, APIC ID 0.
  add(1, 0, false,
      {0x000006f1, (8u << 8) | (1u << 16), CX16 | POPCNT,
       FPU | PSE | TSC | MSR | PAE | CX8 | APIC | SEP | PGE | CMOV | PAT | FXSR | SSE | SSE2});
  // Leaf 0x15: TSC = crystal * EBX / EAX. Leaf 0x16: base and maximum MHz (the TSC rate) and the
  // bus (crystal) MHz.
  // Leaf 7: IA32_TSC_ADJUST (MSR 0x3B: writes to it or to the TSC move both together) and
  // IA32_ARCH_CAPABILITIES (the software CPU's value: kSoftwareCpuArchCapabilities; under KVM the
  // host kernel answers the MSR).
  add(7, 0, true, {0, TSC_ADJUST, 0, ARCH_CAPABILITIES});
  add(0x15, 0, false, cpuid_tsc_leaf(tsc_hz));
  const uint32_t tsc_mhz = uint32_t((tsc_hz + 500'000) / 1'000'000);
  add(0x16, 0, false, {tsc_mhz, tsc_mhz, uint32_t(kCpuidCrystalHz / 1'000'000), 0});
  add(0x80000000, 0, false, {0x80000008, 0, 0, 0});
  add(0x80000001, 0, false, {0, 0, LAHF_LM | ABM, SYSCALL | NX | RDTSCP | LM});  // ABM: LZCNT
  constexpr std::string_view brand = "Janus Virtual CPU";
  for (uint32_t i = 0; i < 3; ++i)
    add(0x80000002 + i, 0, false,
        {chars4(brand, 16 * i), chars4(brand, 16 * i + 4), chars4(brand, 16 * i + 8), chars4(brand, 16 * i + 12)});
  // Invariant TSC: the software CPU's TSC is the machine clock at one rate, halted or not
  // (under KVM, the host's TSC, where the host has the bit). Linux then trusts it as constant
  // and nonstop.
  add(0x80000007, 0, false, {0, 0, 0, INVARIANT_TSC});
  // Physical address bits 40, linear 48.
  add(0x80000008, 0, false, {(48u << 8) | 40u, 0, 0, 0});
  return CpuidTable(std::move(t));
}

}  // namespace janus
