// The janus command line on bad input: one line naming the problem, exit status 1, nothing
// started. Runs the real binary.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "app/options.h"

namespace {

struct RunResult {
  int status = -1;
  std::string out;  // stdout and stderr together
};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

RunResult run_janus(const std::string& args) {
  std::string cmd = "timeout 20 " + quote(JANUS_BINARY) + " " + args + " </dev/null 2>&1";
  RunResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string temp_file(const std::string& name, const std::string& contents) {
  auto path = std::filesystem::temp_directory_path() / ("janus-cli-" + name);
  std::ofstream(path, std::ios::binary) << contents;
  return path.string();
}

void expect_one_line_error(const RunResult& r, const std::string& needle) {
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_EQ(r.out.rfind("janus: ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find(needle), std::string::npos) << "expected '" << needle << "' in: " << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
}

}  // namespace

TEST(Cli, UnknownOption) { expect_one_line_error(run_janus("-frobnicate"), "unknown option '-frobnicate'"); }
TEST(Cli, MissingArgument) { expect_one_line_error(run_janus("-kernel"), "-kernel: missing argument"); }
TEST(Cli, TooLittleMemory) { expect_one_line_error(run_janus("-m 4 -bios /dev/null"), "too little memory"); }
TEST(Cli, MalformedMemory) { expect_one_line_error(run_janus("-m lots"), "-m: 'lots' is not a size"); }
TEST(Cli, UnknownAccelerator) { expect_one_line_error(run_janus("-accel hvf"), "unknown accelerator 'hvf'"); }
TEST(Cli, UnsupportedSmp) { expect_one_line_error(run_janus("-smp 4"), "one CPU"); }
TEST(Cli, UnknownDevice) { expect_one_line_error(run_janus("-device e1000"), "unsupported device 'e1000'"); }
TEST(Cli, BadDebugExitPort) {
  expect_one_line_error(run_janus("-device isa-debug-exit,iobase=0x10000"), "not a port number");
}
TEST(Cli, NoGuest) { expect_one_line_error(run_janus("-accel tcg"), "no guest"); }
TEST(Cli, MissingKernel) {
  expect_one_line_error(run_janus("-accel tcg -kernel /nonexistent/vmlinuz"), "/nonexistent/vmlinuz");
}
TEST(Cli, MalformedKernel) {
  std::string k = temp_file("garbage-kernel", std::string(4096, 'x'));
  expect_one_line_error(run_janus("-accel tcg -kernel " + quote(k)), "neither a bzImage nor a Multiboot image");
}
TEST(Cli, MissingRom) { expect_one_line_error(run_janus("-accel tcg -bios /nonexistent/bios.bin"), "/nonexistent/bios.bin"); }
TEST(Cli, MalformedRom) {
  std::string rom = temp_file("odd-rom", std::string(1000, '\xf4'));
  expect_one_line_error(run_janus("-accel tcg -bios " + quote(rom)), rom);
}
TEST(Cli, CrossLimitNotANumber) {
  expect_one_line_error(run_janus("-accel cross -cross-limit lots"), "-cross-limit: 'lots' is not a number");
}
TEST(Cli, CrossLimitZero) { expect_one_line_error(run_janus("-accel cross -cross-limit 0"), "-cross-limit: the instruction count must be at least 1"); }
// A developer knob read from the environment: an option LLVM does not take is a bad flag too.
TEST(Cli, UnknownLlvmOption) {
  const std::string rom = temp_file("hlt.rom", std::string(65536, '\xf4'));
  setenv("JANUS_LLVM_ARGS", "-no-such-llvm-option", 1);
  RunResult r = run_janus("-accel tcg -display none -bios " + rom);
  unsetenv("JANUS_LLVM_ARGS");
  expect_one_line_error(r, "JANUS_LLVM_ARGS: Unknown command line argument '-no-such-llvm-option'");
}
TEST(Cli, CrossLimitNegative) { expect_one_line_error(run_janus("-accel cross -cross-limit -5"), "-cross-limit: '-5' is not a number"); }
TEST(Cli, CrossLimitMissingValue) { expect_one_line_error(run_janus("-accel cross -cross-limit"), "-cross-limit: missing argument"); }
TEST(Cli, CrossLimitWithoutCross) {
  expect_one_line_error(run_janus("-accel tcg -cross-limit 1000"), "-cross-limit and -cross-inject-fault need -accel cross");
}
TEST(Cli, InitrdWithoutKernel) { expect_one_line_error(run_janus("-initrd x"), "-initrd needs -kernel"); }

TEST(Cli, HelpAndVersionExitZero) {
  RunResult h = run_janus("-help");
  EXPECT_EQ(h.status, 0);
  EXPECT_NE(h.out.find("-accel kvm|tcg|auto"), std::string::npos);
  RunResult v = run_janus("-version");
  EXPECT_EQ(v.status, 0);
  EXPECT_EQ(v.out.rfind("janus ", 0), 0u);
}

TEST(Options, MemorySizes) {
  EXPECT_EQ(janus::parse_memory_size("256"), 256ull << 20);
  EXPECT_EQ(janus::parse_memory_size("1G"), 1ull << 30);
  EXPECT_EQ(janus::parse_memory_size("size=512M"), 512ull << 20);
  EXPECT_EQ(janus::parse_memory_size("16384k"), 16ull << 20);
  EXPECT_THROW(janus::parse_memory_size("1P"), std::invalid_argument);
  EXPECT_THROW(janus::parse_memory_size("100G"), std::invalid_argument);
}

TEST(Options, QemuStyleDebugExit) {
  auto o = janus::parse_options({"-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-nographic", "-no-reboot"});
  ASSERT_TRUE(o.debug_exit.has_value());
  EXPECT_EQ(o.debug_exit->iobase, 0xf4);
  EXPECT_EQ(o.debug_exit->iosize, 4);
  EXPECT_TRUE(o.no_reboot);
}
