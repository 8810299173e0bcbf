#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "app/terminal.h"

using namespace janus;
using namespace std::chrono_literals;

namespace {

using Command = EscapeParser::Command;

std::vector<uint8_t> feed_all(EscapeParser& p, const std::string& in, std::vector<Command>* commands = nullptr) {
  std::vector<uint8_t> out;
  for (char c : in) {
    Command cmd = p.feed(uint8_t(c), out);
    if (commands && cmd != Command::kNone) commands->push_back(cmd);
  }
  return out;
}

std::vector<uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }

TEST(EscapeParser, OrdinaryBytesPassThrough) {
  EscapeParser p;
  std::vector<Command> commands;
  std::string all;
  for (int c = 0; c < 256; ++c)
    if (c != 0x01) all.push_back(char(c));
  EXPECT_EQ(feed_all(p, all, &commands), bytes(all));
  EXPECT_TRUE(commands.empty());
}

TEST(EscapeParser, CtrlAXQuits) {
  EscapeParser p;
  std::vector<Command> commands;
  EXPECT_EQ(feed_all(p, "ls\x01x", &commands), bytes("ls"));
  EXPECT_EQ(commands, std::vector<Command>{Command::kQuit});
}

TEST(EscapeParser, CtrlACtrlASendsOneCtrlA) {
  EscapeParser p;
  std::vector<Command> commands;
  EXPECT_EQ(feed_all(p, "a\x01\x01" "b", &commands), bytes("a\x01" "b"));
  EXPECT_TRUE(commands.empty());
  // After the doubled escape the parser is back to normal: x is just x.
  EXPECT_EQ(feed_all(p, "x", &commands), bytes("x"));
  EXPECT_TRUE(commands.empty());
}

TEST(EscapeParser, CtrlAHAsksForHelpAndUnknownEscapesAreSwallowed) {
  EscapeParser p;
  std::vector<Command> commands;
  EXPECT_EQ(feed_all(p, "\x01h\x01q" "z", &commands), bytes("z"));
  EXPECT_EQ(commands, std::vector<Command>{Command::kHelp});
  EXPECT_NE(std::string(EscapeParser::help_text()).find("C-a x"), std::string::npos);
}

TEST(EscapeParser, EscapeSplitAcrossReads) {
  EscapeParser p;
  std::vector<uint8_t> out;
  EXPECT_EQ(p.feed(0x01, out), Command::kNone);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(p.feed('x', out), Command::kQuit);
  EXPECT_TRUE(out.empty());
}

// Collects what the input thread delivers.
struct Inbox {
  std::mutex m;
  std::condition_variable cv;
  std::vector<uint8_t> received;
  int quits = 0;
  void add(std::span<const uint8_t> b) {
    std::lock_guard l(m);
    received.insert(received.end(), b.begin(), b.end());
    cv.notify_all();
  }
  void quit() {
    std::lock_guard l(m);
    ++quits;
    cv.notify_all();
  }
  template <typename Pred> bool wait(Pred pred) {
    std::unique_lock l(m);
    return cv.wait_for(l, 5s, pred);
  }
};

struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int fds[2];
    if (pipe(fds) == 0) {
      r = fds[0];
      w = fds[1];
    }
  }
  ~Pipe() {
    close_read();
    close_write();
  }
  void close_read() {
    if (r >= 0) close(r);
    r = -1;
  }
  void close_write() {
    if (w >= 0) close(w);
    w = -1;
  }
};

bool wait_until(const std::function<bool()>& cond) {
  for (int i = 0; i < 500; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return cond();
}

TEST(Terminal, PipeInputIsNotATtyAndIsLeftAlone) {
  Pipe in, out;
  ASSERT_GE(in.r, 0);
  const int flags_before = fcntl(in.r, F_GETFL);
  Inbox inbox;
  Terminal term([&](std::span<const uint8_t> b) { inbox.add(b); }, [&] { inbox.quit(); }, in.r, out.w);
  EXPECT_FALSE(term.raw_mode());
  EXPECT_EQ(fcntl(in.r, F_GETFL), flags_before);

  ASSERT_EQ(write(in.w, "hello\r\n\x03", 8), 8);
  EXPECT_TRUE(inbox.wait([&] { return inbox.received.size() == 8; }));
  EXPECT_EQ(inbox.received, bytes("hello\r\n\x03"));

  // End of input stops the thread but is not a request to quit.
  in.close_write();
  EXPECT_TRUE(wait_until([&] { return term.input_closed(); }));
  std::lock_guard lock(inbox.m);
  EXPECT_EQ(inbox.quits, 0);
}

TEST(Terminal, CtrlAXOnInputCallsOnQuitAfterDeliveringEarlierBytes) {
  Pipe in, out;
  Inbox inbox;
  Terminal term([&](std::span<const uint8_t> b) { inbox.add(b); }, [&] { inbox.quit(); }, in.r, out.w);
  ASSERT_EQ(write(in.w, "ab\x01\x01" "c\x01x", 7), 7);
  EXPECT_TRUE(inbox.wait([&] { return inbox.quits == 1; }));
  EXPECT_EQ(inbox.received, bytes("ab\x01" "c"));
}

TEST(Terminal, OutputIsWrittenUnchanged) {
  Pipe in, out;
  Terminal term([](std::span<const uint8_t>) {}, [] {}, in.r, out.w);
  std::vector<uint8_t> sent = {'o', 'k', '\n', '\r', 0x00, 0xff, 0x1b, '['};
  for (uint8_t b : sent) term.write(b);
  term.write(std::span<const uint8_t>(sent));
  std::vector<uint8_t> got(2 * sent.size());
  size_t n = 0;
  while (n < got.size()) {
    ssize_t r = read(out.r, got.data() + n, got.size() - n);
    ASSERT_GT(r, 0);
    n += size_t(r);
  }
  std::vector<uint8_t> expected = sent;
  expected.insert(expected.end(), sent.begin(), sent.end());
  EXPECT_EQ(got, expected);
}

TEST(Terminal, DestructionStopsABlockedInputThreadPromptly) {
  Pipe in, out;
  auto start = std::chrono::steady_clock::now();
  {
    Terminal term([](std::span<const uint8_t>) {}, [] {}, in.r, out.w);
    std::this_thread::sleep_for(20ms);  // the thread is now blocked in poll()
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

// A pseudo-terminal stands in for an interactive stdin.
struct Pty {
  int master = -1, slave = -1;
  Pty() {
    master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) return;
    const char* name = ptsname(master);
    if (name) slave = open(name, O_RDWR | O_NOCTTY);
  }
  ~Pty() {
    if (slave >= 0) close(slave);
    if (master >= 0) close(master);
  }
  bool ok() const { return slave >= 0; }
};

termios settings(int fd) {
  termios t{};
  tcgetattr(fd, &t);
  return t;
}

bool same_modes(const termios& a, const termios& b) {
  return a.c_iflag == b.c_iflag && a.c_oflag == b.c_oflag && a.c_lflag == b.c_lflag && a.c_cflag == b.c_cflag;
}

TEST(Terminal, TtyIsRawWhileOwnedAndRestoredAfter) {
  Pty pty;
  if (!pty.ok()) GTEST_SKIP() << "no pseudo-terminals on this host";
  const termios before = settings(pty.slave);
  ASSERT_TRUE(before.c_lflag & ICANON);  // a fresh pty is cooked
  Inbox inbox;
  {
    Terminal term([&](std::span<const uint8_t> b) { inbox.add(b); }, [&] { inbox.quit(); }, pty.slave, pty.slave);
    EXPECT_TRUE(term.raw_mode());
    const termios raw = settings(pty.slave);
    EXPECT_EQ(raw.c_lflag & (ICANON | ECHO | ISIG), 0u);
    EXPECT_EQ(raw.c_iflag & (ICRNL | IXON), 0u);
    EXPECT_EQ(raw.c_oflag & OPOST, 0u);
    // Raw input: Ctrl-C and CR arrive as bytes, without waiting for a line.
    ASSERT_EQ(write(pty.master, "\x03\r", 2), 2);
    EXPECT_TRUE(inbox.wait([&] { return inbox.received.size() == 2; }));
    EXPECT_EQ(inbox.received, bytes("\x03\r"));
    // A second raw terminal on the same process is refused rather than corrupting the first.
    EXPECT_THROW(Terminal([](std::span<const uint8_t>) {}, [] {}, pty.slave, pty.slave), std::runtime_error);
  }
  EXPECT_TRUE(same_modes(settings(pty.slave), before));
}

// Runs body in a child process that owns the pty in raw mode; returns the child's wait status.
template <typename Body> int run_child_with_raw_tty(int slave, Body body) {
  pid_t pid = fork();
  if (pid == 0) {
    rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    new Terminal([](std::span<const uint8_t>) {}, [] {}, slave, slave);  // never destroyed on purpose
    body();
    _exit(100);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

TEST(Terminal, FatalSignalRestoresTheTtyThenKills) {
  Pty pty;
  if (!pty.ok()) GTEST_SKIP() << "no pseudo-terminals on this host";
  const termios before = settings(pty.slave);
  for (int sig : {SIGTERM, SIGSEGV}) {
    int status = run_child_with_raw_tty(pty.slave, [sig] { raise(sig); });
    ASSERT_TRUE(WIFSIGNALED(status)) << "signal " << sig;
    EXPECT_EQ(WTERMSIG(status), sig);
    EXPECT_TRUE(same_modes(settings(pty.slave), before)) << "signal " << sig;
  }
}

TEST(Terminal, ExitWithoutDestructorRestoresTheTty) {
  Pty pty;
  if (!pty.ok()) GTEST_SKIP() << "no pseudo-terminals on this host";
  const termios before = settings(pty.slave);
  int status = run_child_with_raw_tty(pty.slave, [] { std::exit(3); });
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);
  EXPECT_TRUE(same_modes(settings(pty.slave), before));
}

TEST(Terminal, ChildReallyLeavesTheTtyRawWithoutTheRestore) {
  // Guards the two tests above: a child killed by SIGKILL (no handler can run) leaves the pty
  // raw, so "restored" there really was the restore path at work.
  Pty pty;
  if (!pty.ok()) GTEST_SKIP() << "no pseudo-terminals on this host";
  const termios before = settings(pty.slave);
  int status = run_child_with_raw_tty(pty.slave, [] { raise(SIGKILL); });
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_FALSE(same_modes(settings(pty.slave), before));
  tcsetattr(pty.slave, TCSANOW, &before);
}

}  // namespace
