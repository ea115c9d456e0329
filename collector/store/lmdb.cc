/*
 * lmdb.cc - RAII wrappers over LMDB (see lmdb.hh), the environment registry,
 * the resize gate, and the StoreError definitions (errors.hh has no .cc of
 * its own).
 *
 * Thread-safety: the registry is guarded by one mutex; Env::dbi by a mutex
 * per Env; the gate by a mutex per Env, with per-thread counts of the passes
 * a thread holds; transactions are per thread.  Errors: StoreError.
 */
#include "config.h"

#include "collector/store/lmdb.hh"

#include "collector/common/config-keys.hh"
#include "collector/common/log.hh"
#include "collector/intake/byte-source.hh"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <system_error>
#include <tuple>
#include <unistd.h>
#include <utility>
#include <vector>

namespace dmarcwatch::collector
{

namespace
{

std::string storeErrorText(const std::string& operation, int rc, const std::string& detail)
{
  std::string text = "store " + operation;
  if (!detail.empty()) {
    text += ": " + detail;
  }
  if (rc != 0) {
    // mdb_strerror covers errno values too.
    text += std::string(detail.empty() ? ": " : " (") + mdb_strerror(rc) + (detail.empty() ? "" : ")");
  }
  return text;
}

} // namespace

StoreError::StoreError(const std::string& operation, int rc, const std::string& detail) :
  std::runtime_error(storeErrorText(operation, rc, detail)), d_rc(rc)
{
}

bool StoreError::transient() const
{
  switch (d_rc) {
  case MDB_MAP_FULL:
  case MDB_READERS_FULL:
  case MDB_TXN_FULL:
  case MDB_MAP_RESIZED:
  case ENOSPC:
  case EDQUOT:
  case EAGAIN:
  case EBUSY:
    return true;
  default:
    return false;
  }
}

} // namespace dmarcwatch::collector

namespace dmarcwatch::collector::lmdb
{

namespace
{

//! Attempts for a transaction start that fails with MAP_RESIZED or READERS_FULL.
constexpr int s_beginAttempts = 4;
//! Values this big (half a page) are read with pread, not through the map (Env::readValue).
constexpr size_t s_copiedValueBytes = 2048;

//! The process-wide registry: one Env per (st_dev, st_ino).
struct Registry
{
  std::mutex mutex;
  std::condition_variable closed; //!< an Env finished closing
  struct Entry
  {
    std::weak_ptr<Env> env;
    const Env* raw = nullptr;
  };
  std::map<std::pair<dev_t, ino_t>, Entry> entries;
};

Registry& registry()
{
  static Registry s_registry;
  return s_registry;
}

//! Environments this thread holds a write transaction on (a second one would self-deadlock).
thread_local std::vector<const MDB_env*> t_writing;

//! Per thread: the gate passes it holds on each Env (nested ones count once in the Env).
struct GateCount
{
  const Env* env;
  unsigned passes;
};
thread_local std::vector<GateCount> t_passes;

//! Per thread: the map size its last write transaction on an Env began with (Env::grow).
//! Keyed by Env::serial(), not the address, which a later Env may reuse.
struct WriteBegan
{
  uint64_t env;
  uint64_t mapSize;
};
thread_local std::vector<WriteBegan> t_writeBegan;
//! Envs remembered per thread: a thread rarely writes to more than one.
constexpr size_t s_writeBeganSlots = 8;

unsigned& passesOf(const Env* env)
{
  for (auto& entry : t_passes) {
    if (entry.env == env) {
      return entry.passes;
    }
  }
  return t_passes.emplace_back(GateCount{env, 0}).passes;
}

unsigned passesHeld(const Env* env)
{
  for (const auto& entry : t_passes) {
    if (entry.env == env) {
      return entry.passes;
    }
  }
  return 0;
}

void noteWriteBegan(uint64_t env, uint64_t mapSize)
{
  for (auto& entry : t_writeBegan) {
    if (entry.env == env) {
      entry.mapSize = mapSize;
      return;
    }
  }
  if (t_writeBegan.size() >= s_writeBeganSlots) {
    t_writeBegan.erase(t_writeBegan.begin());
  }
  t_writeBegan.push_back(WriteBegan{env, mapSize});
}

uint64_t writeBeganAt(uint64_t env)
{
  for (const auto& entry : t_writeBegan) {
    if (entry.env == env) {
      return entry.mapSize;
    }
  }
  return 0;
}

std::string mebibytes(uint64_t bytes)
{
  return std::to_string(bytes >> 20) + " MiB";
}

/*!
 * \brief Set the mode of the directory just made to 0750, whatever the umask (umask 077 would
 * leave 0700, and the group could not enter).  Through a descriptor of the directory itself:
 * O_NOFOLLOW, so a symbolic link put in its place is not followed.  A file system without
 * Unix modes refuses (EPERM): logged, the store works without the group.
 */
void setCreatedMode(const std::string& dir)
{
  const FileDescriptor fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid() || ::fchmod(fd.get(), 0750) != 0) {
    logWarning("cannot set the store directory to mode 0750: the group may not read the store",
               {{"path", dir}, {"error", std::strerror(errno)}});
  }
}

void createDirectory(const std::string& dir)
{
  if (::mkdir(dir.c_str(), 0750) == 0) {
    setCreatedMode(dir);
    return;
  }
  if (errno == EEXIST) {
    return;
  }
  if (errno == ENOENT) {
    // Parents first (mode from the umask, like mkdir -p), the store itself 0750.
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(dir).parent_path(), ec);
    if (::mkdir(dir.c_str(), 0750) == 0) {
      setCreatedMode(dir);
      return;
    }
    if (errno == EEXIST) {
      return;
    }
  }
  throw StoreError("open", errno, "cannot create directory " + dir);
}

[[noreturn]] void noStore(const std::string& dir, int rc)
{
  throw StoreError("open", rc, "no store at " + dir + ": run dmarcwatch ingest first");
}

//! Begin a transaction inside the gate (pass is entered here, and held on return).
void beginWithRetries(Env& env, unsigned flags, MDB_txn** txn, const char* what, GatePass& pass)
{
  for (int attempt = 1;; ++attempt) {
    pass.enter(env);
    const uint64_t seen = env.mapSize();
    int rc = mdb_txn_begin(env.get(), nullptr, flags, txn);
    if (rc == MDB_SUCCESS) {
      return;
    }
    if (attempt < s_beginAttempts && rc == MDB_MAP_RESIZED && passesHeld(&env) == 1) {
      // Another process grew the map past ours: adopt its size, with no transaction of
      // this process running (a thread holding another one here cannot, and fails below).
      pass.release();
      env.adoptMapSize(seen);
      continue;
    }
    if (attempt < s_beginAttempts && rc == MDB_READERS_FULL && env.readerCheck() > 0) {
      continue;
    }
    check(rc, what, env.dir());
  }
}

//! One lookup for both transaction kinds: "not found" is a value, anything else a StoreError.
std::optional<std::string_view> getValue(MDB_txn* txn, MDB_dbi dbi, std::string_view key)
{
  MDB_val k = toVal(key);
  MDB_val v{};
  int rc = mdb_get(txn, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) {
    return std::nullopt;
  }
  check(rc, "get");
  return toView(v);
}

} // namespace

void shareWithGroup(const std::string& dir)
{
  for (const auto& [name, bits, what] : {std::tuple{"/data.mdb", mode_t{0040}, "g+r"},
                                        std::tuple{"/lock.mdb", mode_t{0060}, "g+rw"}}) {
    const std::string path = dir + name;
    // O_PATH, never an ordinary open(): closing any other descriptor of lock.mdb would drop this
    // process's POSIX locks on it (LMDB's); an O_PATH one holds no lock to drop.  O_NOFOLLOW: a
    // symbolic link is opened itself, and left alone below (only the owner writes the directory).
    const FileDescriptor fd(::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    struct stat st{};
    if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid() ||
        (st.st_mode & bits) == bits) {
      continue;
    }
    // The file opened, not whatever the path names by now; by path only where /proc is missing.
    const std::string self = "/proc/self/fd/" + std::to_string(fd.get());
    const mode_t mode = (st.st_mode & 07777) | bits;
    if (::chmod(self.c_str(), mode) != 0 && (errno != ENOENT || ::chmod(path.c_str(), mode) != 0)) {
      // A file system without Unix modes (EPERM): the owner still uses the store.
      logWarning(std::string("cannot chmod ") + what + ": the store's group may not read the store",
                 {{"path", path}, {"error", std::strerror(errno)}});
    }
  }
}

void check(int rc, const char* operation, std::string_view detail)
{
  if (rc != MDB_SUCCESS) {
    throw StoreError(operation, rc, std::string(detail));
  }
}

void checkWrite(int rc, const char* operation, const Env& env)
{
  if (rc == MDB_SUCCESS) {
    return;
  }
  // mdb_page_flush: a pwrite that wrote less than asked is EIO ("short write, filesystem
  // full?").  The short write itself filled the file system, so it is (nearly) full now;
  // root may use the blocks reserved for it.  A real I/O error on a roomy one stays EIO.
  struct statvfs vfs{};
  if (rc == EIO && ::statvfs(env.dir().c_str(), &vfs) == 0) {
    const uint64_t blocks = ::geteuid() == 0 ? vfs.f_bfree : vfs.f_bavail;
    if (blocks * vfs.f_frsize < s_fullBytes) {
      throw StoreError(operation, ENOSPC, env.dir() + ": short write, file system full");
    }
  }
  check(rc, operation, env.dir());
}

std::shared_ptr<Env> Env::open(const std::string& dir, const Options& options)
{
  // Step 1: the directory (created read-write; must hold a data file read-only).
  if (!options.readOnly) {
    createDirectory(dir);
  }
  struct stat st{};
  if (::stat(dir.c_str(), &st) != 0) {
    int err = errno;
    if (options.readOnly && err == ENOENT) {
      noStore(dir, err);
    }
    throw StoreError("open", err, "cannot stat " + dir);
  }
  if (!S_ISDIR(st.st_mode)) {
    throw StoreError("open", ENOTDIR, dir);
  }
  if (options.readOnly) {
    struct stat dataSt{};
    if (::stat((dir + "/data.mdb").c_str(), &dataSt) != 0 && errno == ENOENT) {
      noStore(dir, ENOENT);
    }
  }

  // Step 2: share an Env already open in this process; wait for one that is closing.
  auto& reg = registry();
  std::unique_lock lock(reg.mutex);
  const auto key = std::make_pair(st.st_dev, st.st_ino);
  for (;;) {
    auto found = reg.entries.find(key);
    if (found == reg.entries.end()) {
      break;
    }
    if (auto env = found->second.env.lock()) {
      if (env->d_readOnly && !options.readOnly) {
        throw StoreError("open", EINVAL, dir + " is already open read-only in this process");
      }
      return env;
    }
    reg.closed.wait(lock);
  }

  // Step 3: a new environment; the Env destructor releases it if a step below throws.
  static std::atomic<uint64_t> s_serials{0};
  std::shared_ptr<Env> env(new Env());
  env->d_serial = ++s_serials;
  env->d_dir = dir;
  env->d_readOnly = options.readOnly;
  env->d_dev = st.st_dev;
  env->d_ino = st.st_ino;
  check(mdb_env_create(&env->d_env), "create environment", dir);
  check(mdb_env_set_maxdbs(env->d_env, options.maxDbs), "set maxdbs", dir);
  check(mdb_env_set_maxreaders(env->d_env, options.maxReaders), "set maxreaders", dir);
  // Readers take the writer's size from the file (knot kjournalprint does the same); a
  // writer starts at mapSize (never above the maximum) and LMDB raises it to the data's size.
  env->d_maxMapSize = options.readOnly                ? 0
                      : options.maxMapSize == 0        ? options.mapSize
                                                       : options.maxMapSize;
  env->d_maxConfigured = !options.readOnly && options.maxMapSize != 0;
  check(mdb_env_set_mapsize(env->d_env, options.readOnly ? 0 : std::min(options.mapSize, env->d_maxMapSize)),
        "set mapsize", dir);
  // NORDAHEAD everywhere: lookups touch scattered pages, and kernel read-ahead would map
  // megabytes around each one (a 7-day status on a 700 MiB store grew to 300 MiB RSS).
  // WRITEMAP for writers (file comment): the data file is allocated up to the map below.
  unsigned flags = MDB_NOTLS | MDB_NORDAHEAD;
  if (options.readOnly) {
    flags |= MDB_RDONLY;
  }
  else {
    flags |= MDB_WRITEMAP;
    if (!options.sync) {
      flags |= MDB_NOSYNC | MDB_NOMETASYNC;
    }
  }
  int rc = mdb_env_open(env->d_env, dir.c_str(), flags, 0640);
  if (rc != MDB_SUCCESS) {
    if (options.readOnly && rc == ENOENT) {
      noStore(dir, rc);
    }
    check(rc, "open environment", dir);
  }
  if (!options.readOnly) {
    shareWithGroup(dir);
  }
  env->readerCheck();
  env->refreshMapSize();
  if (!options.readOnly) {
    env->allocateFile(env->d_mapSize.load(), "open");
  }
  // Opened now, before any chroot: the writer watches its resident size.
  reg.entries[key] = Registry::Entry{env, env.get()};
  env->d_registered = true;
  return env;
}

Env::~Env()
{
  // Close under the registry lock so no new Env for the same files opens meanwhile
  // (closing a file descriptor drops this process's POSIX locks on that file).  An Env
  // that failed inside Env::open is not registered, and open holds the lock already.
  auto& reg = registry();
  std::unique_lock lock(reg.mutex, std::defer_lock);
  if (d_registered) {
    lock.lock();
  }
  if (d_env != nullptr) {
    mdb_env_close(d_env);
  }
  if (d_registered) {
    auto found = reg.entries.find(std::make_pair(d_dev, d_ino));
    if (found != reg.entries.end() && found->second.raw == this) {
      reg.entries.erase(found);
    }
    lock.unlock();
    reg.closed.notify_all();
  }
}

std::optional<MDB_dbi> Env::dbi(const std::string& name)
{
  std::lock_guard guard(d_dbiMutex);
  if (auto found = d_dbis.find(name); found != d_dbis.end()) {
    return found->second;
  }
  // A handle is opened in its own short transaction and is then valid for every
  // transaction of this Env (lmdb.h mdb_dbi_open).
  MDB_txn* txn = nullptr;
  GatePass pass;
  beginWithRetries(*this, d_readOnly ? MDB_RDONLY : 0, &txn, "begin (open database)", pass);
  MDB_dbi handle = 0;
  int rc = mdb_dbi_open(txn, name.c_str(), d_readOnly ? 0 : MDB_CREATE, &handle);
  if (rc == MDB_NOTFOUND && d_readOnly) {
    mdb_txn_abort(txn);
    return std::nullopt;
  }
  if (rc != MDB_SUCCESS) {
    mdb_txn_abort(txn);
    check(rc, "open database", name);
  }
  checkWrite(mdb_txn_commit(txn), "commit (open database)", *this);
  d_dbis.emplace(name, handle);
  return handle;
}

int Env::readerCheck()
{
  int dead = 0;
  mdb_reader_check(d_env, &dead);
  return dead;
}

void GatePass::enter(Env& env)
{
  if (d_env != nullptr) {
    return;
  }
  // A thread already inside (a nested transaction) must not wait: a resize waits for it.
  unsigned& passes = passesOf(&env);
  if (passes == 0) {
    std::unique_lock lock(env.d_gateMutex);
    env.d_gateChanged.wait(lock, [&env] { return !env.d_resizing; });
    ++env.d_inside;
  }
  ++passes;
  d_env = &env;
}

void GatePass::release()
{
  if (d_env == nullptr) {
    return;
  }
  auto found = std::find_if(t_passes.begin(), t_passes.end(), [this](const GateCount& c) { return c.env == d_env; });
  if (found != t_passes.end() && --found->passes == 0) {
    t_passes.erase(found);
    {
      std::lock_guard guard(d_env->d_gateMutex);
      --d_env->d_inside;
    }
    d_env->d_gateChanged.notify_all();
  }
  d_env = nullptr;
}

void Env::refreshMapSize()
{
  MDB_envinfo info{};
  if (mdb_env_info(d_env, &info) == MDB_SUCCESS) {
    d_mapSize.store(info.me_mapsize);
  }
}

void Env::resizeLocked(std::unique_lock<std::mutex>& lock, uint64_t size, const char* operation, int busyRc)
{
  // Step 1: close the gate and wait for the transactions inside to end (readers included:
  // mdb_env_set_mapsize unmaps what they read).
  d_resizing = true;
  const bool empty = d_gateChanged.wait_for(lock, s_growWait, [this] { return d_inside == 0; });
  if (!empty) {
    d_resizing = false;
    d_gateChanged.notify_all();
    throw StoreError(operation, busyRc,
                     "transactions of this process still running after " + std::to_string(s_growWait.count()) +
                         " s; the map of " + d_dir + " stays at " + mebibytes(d_mapSize.load()));
  }
  // Step 2: the file allocated first (a write map over a hole is SIGBUS on a full disk), then
  // remap (no transaction of this process can start: the gate is ours).
  if (size != 0) {
    try {
      allocateFile(size, operation);
    }
    catch (...) {
      d_resizing = false;
      d_gateChanged.notify_all();
      throw;
    }
  }
  int rc = mdb_env_set_mapsize(d_env, size);
  refreshMapSize();
  {
    std::lock_guard mapLock(d_mapMutex); // the map may have moved: readValue looks again
    d_mapBegin = 0;
    d_mapEnd = 0;
  }
  d_resizing = false;
  d_gateChanged.notify_all();
  check(rc, operation, d_dir);
}

void Env::allocateFile(uint64_t size, const char* operation) const
{
  if (d_readOnly || size == 0) {
    return;
  }
  mdb_filehandle_t fd = -1;
  check(mdb_env_get_fd(d_env, &fd), operation, d_dir);
  // posix_fallocate returns the error (it does not set errno); allocated ranges cost nothing.
  const int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(size));
  if (rc != 0) {
    throw StoreError(operation, rc,
                     "cannot allocate " + mebibytes(size) + " for " + d_dir + "/data.mdb" +
                       (rc == ENOSPC ? ": file system full" : ""));
  }
}

void Env::grow()
{
  if (d_readOnly) {
    throw StoreError("grow", EACCES, d_dir + " is open read-only");
  }
  if (passesHeld(this) > 0) {
    throw StoreError("grow", EDEADLK, "this thread still holds a transaction on " + d_dir);
  }
  const uint64_t seen = writeBeganAt(d_serial);
  std::unique_lock lock(d_gateMutex);
  // Step 1: one resize at a time; a map that grew since this thread's write began is enough.
  d_gateChanged.wait(lock, [this] { return !d_resizing; });
  const uint64_t now = d_mapSize.load();
  if (seen != 0 && now > seen) {
    return;
  }
  if (now >= d_maxMapSize) {
    throw StoreError("grow", MDB_MAP_FULL,
                     d_dir + " is at its maximum size of " + mebibytes(d_maxMapSize) + " (" +
                         (d_maxConfigured ? keys::maxDatabaseSize : keys::mapSize) + ")");
  }
  // Step 2: double (whole MiB), never past the maximum.
  constexpr uint64_t s_mib = uint64_t{1} << 20;
  const uint64_t want = std::min(std::max<uint64_t>(now * 2, now + s_mib) & ~(s_mib - 1), d_maxMapSize);
  resizeLocked(lock, want, "grow", MDB_MAP_FULL);
}

void Env::adoptMapSize(uint64_t seen)
{
  std::unique_lock lock(d_gateMutex);
  d_gateChanged.wait(lock, [this] { return !d_resizing; });
  if (d_mapSize.load() > seen) {
    return; // another thread adopted it already
  }
  resizeLocked(lock, 0, "adopt map size", MDB_MAP_RESIZED);
}

ReadTxn::ReadTxn(const std::shared_ptr<Env>& env) :
  d_env(env)
{
  beginWithRetries(*d_env, MDB_RDONLY, &d_txn, "begin read transaction", d_pass);
}

ReadTxn::ReadTxn(ReadTxn&& other) noexcept :
  d_env(std::move(other.d_env)), d_pass(std::move(other.d_pass)), d_txn(std::exchange(other.d_txn, nullptr))
{
}

ReadTxn::~ReadTxn()
{
  if (d_txn != nullptr) {
    mdb_txn_abort(d_txn);
  }
}

std::optional<std::string_view> ReadTxn::get(MDB_dbi dbi, std::string_view key) const
{
  return getValue(d_txn, dbi, key);
}

WriteTxn::WriteTxn(const std::shared_ptr<Env>& env) :
  d_env(env)
{
  if (std::find(t_writing.begin(), t_writing.end(), env->get()) != t_writing.end()) {
    throw StoreError("begin write transaction", EDEADLK,
                     "this thread already has a write transaction on " + env->dir());
  }
  beginWithRetries(*d_env, 0, &d_txn, "begin write transaction", d_pass);
  t_writing.push_back(env->get());
  noteWriteBegan(d_env->serial(), d_env->mapSize());
}

WriteTxn::~WriteTxn()
{
  abort();
}

void WriteTxn::end()
{
  d_txn = nullptr;
  auto found = std::find(t_writing.begin(), t_writing.end(), d_env->get());
  if (found != t_writing.end()) {
    t_writing.erase(found);
  }
  d_pass.release();
}

void WriteTxn::abort()
{
  if (d_txn != nullptr) {
    mdb_txn_abort(d_txn);
    end();
  }
}

void WriteTxn::commit()
{
  if (d_txn == nullptr) {
    throw StoreError("commit", EINVAL, "transaction is not active");
  }
  int rc = mdb_txn_commit(d_txn);
  end(); // the transaction is freed whatever commit returned
  checkWrite(rc, "commit", *d_env);
  if (d_afterCommit) {
    std::exchange(d_afterCommit, nullptr)();
  }
}

std::optional<std::string_view> WriteTxn::get(MDB_dbi dbi, std::string_view key) const
{
  return getValue(d_txn, dbi, key);
}

void WriteTxn::put(MDB_dbi dbi, std::string_view key, std::string_view value, unsigned flags)
{
  MDB_val k = toVal(key);
  MDB_val v = toVal(value);
  checkWrite(mdb_put(d_txn, dbi, &k, &v, flags), "put", *d_env);
}

bool WriteTxn::putNew(MDB_dbi dbi, std::string_view key, std::string_view value)
{
  MDB_val k = toVal(key);
  MDB_val v = toVal(value);
  int rc = mdb_put(d_txn, dbi, &k, &v, MDB_NOOVERWRITE);
  if (rc == MDB_KEYEXIST) {
    return false;
  }
  checkWrite(rc, "put", *d_env);
  return true;
}

std::span<uint8_t> WriteTxn::reserve(MDB_dbi dbi, std::string_view key, size_t size)
{
  MDB_val k = toVal(key);
  MDB_val v{size, nullptr};
  checkWrite(mdb_put(d_txn, dbi, &k, &v, MDB_RESERVE), "reserve", *d_env);
  return {static_cast<uint8_t*>(v.mv_data), size};
}

bool WriteTxn::del(MDB_dbi dbi, std::string_view key)
{
  MDB_val k = toVal(key);
  int rc = mdb_del(d_txn, dbi, &k, nullptr);
  if (rc == MDB_NOTFOUND) {
    return false;
  }
  checkWrite(rc, "del", *d_env);
  return true;
}

Cursor::Cursor(MDB_txn* txn, MDB_dbi dbi)
{
  check(mdb_cursor_open(txn, dbi, &d_cursor), "open cursor");
}

Cursor::~Cursor()
{
  if (d_cursor != nullptr) {
    mdb_cursor_close(d_cursor);
  }
}

bool Cursor::get(MDB_cursor_op op, MDB_val& key, MDB_val& value)
{
  int rc = mdb_cursor_get(d_cursor, &key, &value, op);
  if (rc == MDB_NOTFOUND) {
    return false;
  }
  check(rc, "cursor get");
  return true;
}

bool Cursor::seek(std::string_view key, MDB_val& foundKey, MDB_val& value)
{
  foundKey = toVal(key);
  return get(MDB_SET_RANGE, foundKey, value);
}

void Cursor::put(std::string_view key, std::string_view value, unsigned flags)
{
  MDB_val k = toVal(key);
  MDB_val v = toVal(value);
  check(mdb_cursor_put(d_cursor, &k, &v, flags), "cursor put");
}

std::optional<uint64_t> Env::mapOffset(const void* at, size_t size) const
{
  const auto address = reinterpret_cast<uintptr_t>(at);
  std::lock_guard lock(d_mapMutex);
  if (address < d_mapBegin || address >= d_mapEnd) {
    // Not where the map was (or not looked up yet): LMDB maps data.mdb from offset 0 once,
    // and again elsewhere when it grows.
    struct stat st{};
    if (::stat((d_dir + "/data.mdb").c_str(), &st) != 0) {
      return std::nullopt;
    }
    std::ifstream maps("/proc/self/maps");
    std::string line;
    while (std::getline(maps, line)) {
      unsigned long begin = 0;
      unsigned long end = 0;
      unsigned long long offset = 0;
      unsigned long long inode = 0;
      if (std::sscanf(line.c_str(), "%lx-%lx %*s %llx %*s %llu", &begin, &end, &offset, &inode) == 4 &&
          inode == st.st_ino && offset == 0 && line.ends_with("/data.mdb") && address >= begin && address < end) {
        d_mapBegin = begin;
        d_mapEnd = end;
        break;
      }
    }
    if (address < d_mapBegin || address >= d_mapEnd) {
      return std::nullopt;
    }
  }
  if (size > d_mapEnd - address) {
    return std::nullopt;
  }
  return address - d_mapBegin;
}

std::string_view Env::readValue(const MDB_val& value, std::string& buffer) const
{
  const std::string_view inPlace(static_cast<const char*>(value.mv_data), value.mv_size);
  if (value.mv_size < s_copiedValueBytes) {
    return inPlace;
  }
  mdb_filehandle_t fd = -1;
  const auto offset = mapOffset(value.mv_data, value.mv_size);
  if (!offset || mdb_env_get_fd(d_env, &fd) != MDB_SUCCESS) {
    return inPlace; // not in the map (a write transaction's own copy of a page)
  }
  buffer.resize(value.mv_size);
  for (size_t done = 0; done < value.mv_size;) {
    const ssize_t got = ::pread(fd, buffer.data() + done, value.mv_size - done, static_cast<off_t>(*offset + done));
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got <= 0) {
      return inPlace;
    }
    done += static_cast<size_t>(got);
  }
  return buffer;
}

} // namespace dmarcwatch::collector::lmdb
