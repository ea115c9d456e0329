/*
 * lmdb.hh - move-only RAII wrappers over the LMDB C API, used by store.cc.
 *
 * Env is one MDB_env per store directory per process, handed out by a
 * registry keyed by the directory's (st_dev, st_ino): LMDB's locks are POSIX
 * advisory locks, and opening the same environment twice in one process would
 * release them behind LMDB's back (lmdb.h "Caveats").  Environments are opened
 * with MDB_NOTLS (libmilter runs one thread per connection, so read
 * transactions are not bound to a thread); read-only ones with MDB_RDONLY and
 * mapsize 0 (the writer's size is used).  Read-write ones use MDB_WRITEMAP:
 * a write transaction's dirty pages are the map's own pages (page cache), not
 * this process's memory - without it LMDB copies every page a transaction
 * touches into malloc'd memory, tens of MiB for a chunk of random source IPs.
 * A write map over a sparse file is SIGBUS when the file system fills, so
 * the data file is always allocated (posix_fallocate) up to the map size
 * before the map is that big: at open and before each growth.  A full file
 * system is then ENOSPC from open or grow(), never a signal.
 * mdb_reader_check runs at open and periodically.
 *
 * The map grows: a read-write Env starts at Options::mapSize (at least the
 * data in the file) and Env::grow() doubles it, up to Options::maxMapSize,
 * after a write transaction failed with MDB_MAP_FULL; the writer then retries
 * the whole transaction.  mdb_env_set_mapsize needs every transaction of the
 * process ended, so transactions pass a per-Env gate (GatePass) and a resize
 * closes it and waits for them.  Other processes see MDB_MAP_RESIZED at their
 * next transaction start and adopt the size the same way.
 *
 * ReadTxn/WriteTxn abort in the destructor; WriteTxn::commit() is explicit.
 * A thread may hold one WriteTxn per environment (a second one would
 * deadlock on LMDB's writer mutex: it is refused with a StoreError).  Cursors
 * must be destroyed before their transaction (declare them after it).
 * Starting a transaction retries MAP_RESIZED (adopt the new size) and
 * READERS_FULL (clear stale readers) a few times before giving up.
 *
 * Thread-safety: Env is shared (shared_ptr) by threads; a transaction and its
 * cursors belong to one thread at a time and end on the thread that began
 * them (the gate counts transactions per thread).  Errors: StoreError
 * carrying the mdb rc; MDB_NOTFOUND is a value (std::optional / bool), never
 * an exception.
 */
#pragma once

#include "collector/common/errors.hh"

#include <lmdb.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>

namespace dmarcwatch::collector::lmdb
{

//! \brief Throw StoreError(operation, rc, detail + mdb_strerror) unless rc is MDB_SUCCESS.
void check(int rc, const char* operation, std::string_view detail = {});

class Env;

/*!
 * \brief Let the store's group read it: data.mdb g+r, lock.mdb g+rw (a reader, such as `dmarcwatch
 * status` run by an admin in the group, records itself in the lock file's reader table, so it
 * must write it), whatever the umask.  Only the regular files this user owns are changed, and
 * no bit is taken away; a file system that refuses (EPERM) is logged, not an error.  Security:
 * the group can read every report and, through the lock file, disturb (not change) the
 * writers' view of readers; it cannot write the data.  Env::open calls it (read-write).
 */
void shareWithGroup(const std::string& dir);

/*!
 * \brief check() for a call that may write to env's data file: a commit, or a put that spills
 * dirty pages.  LMDB reports a short write as EIO; when env's file system is full (under
 * s_fullBytes free) that is thrown as ENOSPC, a transient "disk full".  \throw StoreError
 */
void checkWrite(int rc, const char* operation, const Env& env);
//! Free bytes under which an EIO from a write counts as a full file system.
inline constexpr uint64_t s_fullBytes = uint64_t{1} << 20;

//! A view of bytes as an MDB_val (LMDB never writes through it for puts).
inline MDB_val toVal(std::string_view bytes)
{
  return MDB_val{bytes.size(), const_cast<char*>(bytes.data())}; // NOLINT: LMDB's API is not const-correct
}
inline MDB_val toVal(std::span<const uint8_t> bytes)
{
  return MDB_val{bytes.size(), const_cast<uint8_t*>(bytes.data())}; // NOLINT
}
//! The bytes an MDB_val points at (valid until the transaction ends or writes).
inline std::string_view toView(const MDB_val& val)
{
  return {static_cast<const char*>(val.mv_data), val.mv_size};
}
inline std::span<const uint8_t> toSpan(const MDB_val& val)
{
  return {static_cast<const uint8_t*>(val.mv_data), val.mv_size};
}

/*!
 * A thread's place inside an Env's resize gate: every transaction holds one for its whole
 * life, and Env::grow (or adopting another process's size) waits until none is held.  A
 * thread's nested passes on one Env count once, so they never wait for a resize.
 * Move-only; release it on the thread that entered.
 */
class GatePass
{
public:
  GatePass() = default;
  //! \brief Enter (blocks while this process resizes the map, briefly).
  explicit GatePass(Env& env) { enter(env); }
  ~GatePass() { release(); }
  GatePass(GatePass&& other) noexcept :
    d_env(std::exchange(other.d_env, nullptr)) {}
  GatePass& operator=(GatePass&&) = delete;
  GatePass(const GatePass&) = delete;
  GatePass& operator=(const GatePass&) = delete;

  void enter(Env& env);
  void release();

private:
  Env* d_env = nullptr;
};

class Env
{
public:
  struct Options
  {
    bool readOnly = false;
    //! Map size at open (read-write; the data already in the file is always mapped).
    uint64_t mapSize = 8ULL << 30;
    //! grow() doubles the map up to this; 0: mapSize (no growth).  Read-write only.
    uint64_t maxMapSize = 0;
    unsigned maxDbs = 32;
    unsigned maxReaders = 512;
    bool sync = true; //!< false: MDB_NOSYNC|MDB_NOMETASYNC (tests and benchmarks only)
  };

  /*!
   * \brief The environment of dir, opened now or shared with an earlier open in this process.
   * Read-write creates dir (mode 0750).  A read-only request may share a read-write Env;
   * a read-write request while the directory is open read-only here is refused.
   * \throw StoreError (missing store when read-only: "no store at DIR: ...", permissions, lock file)
   */
  static std::shared_ptr<Env> open(const std::string& dir, const Options& options);

  ~Env();
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  [[nodiscard]] MDB_env* get() const { return d_env; }
  [[nodiscard]] const std::string& dir() const { return d_dir; }
  [[nodiscard]] bool readOnly() const { return d_readOnly; }

  /*!
   * The bytes of a value read in a transaction: a value of half a page or more is copied
   * into buffer with pread(2) from the data file, a smaller one is returned in place.
   * Why: reading through the map costs a page fault per page, and the kernel maps the
   * neighbouring cached pages with it (fault-around) and unmaps them all at exit; status
   * reads tens of thousands of row blocks, each on pages of its own, and that mapping was
   * the biggest part of its time.  LMDB hands out such a value's address without touching
   * its pages, and the pages of a transaction's snapshot are not reused while it lives, so
   * the copy is the snapshot's.  Falls back to the map when the read fails.
   */
  std::string_view readValue(const MDB_val& value, std::string& buffer) const;

  /*!
   * \brief Handle of the named database, opened once per Env (MDB_CREATE when read-write).
   * \return nullopt when read-only and the database does not exist.  Blocks while another
   * thread opens a handle; must not be called while this thread holds a transaction.
   */
  std::optional<MDB_dbi> dbi(const std::string& name);

  //! \brief Clear reader slots of dead processes (mdb_reader_check). \return slots cleared.
  int readerCheck();

  //! This process's map size in bytes now (stable while the caller holds a transaction).
  [[nodiscard]] uint64_t mapSize() const { return d_mapSize.load(); }
  //! The most grow() goes to (the map size when growth is off; 0 when read-only).
  [[nodiscard]] uint64_t maxMapSize() const { return d_maxMapSize; }
  //! Unique per Env of this process (an address may be reused by a later Env).
  [[nodiscard]] uint64_t serial() const { return d_serial; }

  /*!
   * \brief Make room after a write transaction of this thread failed with MDB_MAP_FULL:
   * double the map, up to Options::maxMapSize; then retry the whole transaction.
   * End the failed transaction first (abort it or destroy it).  When the map grew since
   * this thread's last write transaction began (another thread grew it, or another
   * process and this one adopted it), nothing more is done.  Blocks until no other thread
   * of this process is inside a transaction, at most s_growWait; meanwhile no new ones start.
   * \throw StoreError MDB_MAP_FULL naming MaxDatabaseSize when the map is at its maximum
   * (or transactions did not end in time); EDEADLK when this thread still holds a
   * transaction on this Env; EACCES when read-only; an mdb_env_set_mapsize failure.
   */
  void grow();
  //! The longest grow() waits for running transactions to end.
  static constexpr std::chrono::seconds s_growWait{10};

  /*!
   * \brief The map grew in another process (MDB_MAP_RESIZED at a transaction start seen with
   * map size seen): take the size the data file records, as grow() does (same blocking).
   * \throw StoreError when mdb_env_set_mapsize fails or transactions did not end in time
   */
  void adoptMapSize(uint64_t seen);
  //! \brief Allocate data.mdb up to size bytes (read-write only; no holes under the write map). \throw StoreError
  void allocateFile(uint64_t size, const char* operation) const;


private:
  friend class GatePass;
  Env() = default;
  //! With d_gateMutex held by lock and no resize running: close the gate, wait for it to empty
  //! (StoreError busyRc after s_growWait), set the map size (0: the file's), open the gate.
  void resizeLocked(std::unique_lock<std::mutex>& lock, uint64_t size, const char* operation, int busyRc);
  void refreshMapSize();
  MDB_env* d_env = nullptr;
  std::string d_dir;
  bool d_readOnly = false;
  //! Where the data file is mapped (found in /proc/self/maps: LMDB does not say), for readValue.
  mutable std::mutex d_mapMutex;
  mutable uintptr_t d_mapBegin = 0;
  mutable uintptr_t d_mapEnd = 0;
  //! \brief The file offset of a pointer into the map, nullopt when it is not in it.
  std::optional<uint64_t> mapOffset(const void* at, size_t size) const;
  dev_t d_dev = 0;
  ino_t d_ino = 0;
  bool d_registered = false; //!< in the registry (the destructor then takes its lock)
  uint64_t d_serial = 0;
  std::mutex d_dbiMutex;
  std::map<std::string, MDB_dbi> d_dbis;
  // The resize gate (GatePass): transactions inside, a resize waits for none.
  std::mutex d_gateMutex;
  std::condition_variable d_gateChanged;
  unsigned d_inside = 0;         //!< threads holding a GatePass (each counted once)
  bool d_resizing = false;       //!< a resize waits or runs: new passes wait
  std::atomic<uint64_t> d_mapSize{0};
  uint64_t d_maxMapSize = 0;
  bool d_maxConfigured = false;  //!< Options::maxMapSize was given (the error names MaxDatabaseSize)
};

//! A read-only snapshot.  Use it from one thread at a time, and end it on the thread that began it.
class ReadTxn
{
public:
  //! \throw StoreError (retries MAP_RESIZED and READERS_FULL a few times first)
  explicit ReadTxn(const std::shared_ptr<Env>& env);
  ~ReadTxn();
  ReadTxn(ReadTxn&& other) noexcept;
  ReadTxn& operator=(ReadTxn&&) = delete;
  ReadTxn(const ReadTxn&) = delete;
  ReadTxn& operator=(const ReadTxn&) = delete;

  //! \brief Value of key (a view valid for this transaction). \throw StoreError except NOTFOUND
  std::optional<std::string_view> get(MDB_dbi dbi, std::string_view key) const;
  [[nodiscard]] MDB_txn* get() const { return d_txn; }

private:
  std::shared_ptr<Env> d_env;
  GatePass d_pass; //!< after d_env: left (by the destructor body or end()) while the Env is held
  MDB_txn* d_txn = nullptr;
};

//! The write transaction of this thread.  Aborts unless commit() succeeded.
class WriteTxn
{
public:
  //! \brief Begin (blocks while another writer, in any process, runs). \throw StoreError
  explicit WriteTxn(const std::shared_ptr<Env>& env);
  ~WriteTxn();
  WriteTxn(const WriteTxn&) = delete;
  WriteTxn& operator=(const WriteTxn&) = delete;
  WriteTxn(WriteTxn&&) = delete;
  WriteTxn& operator=(WriteTxn&&) = delete;

  std::optional<std::string_view> get(MDB_dbi dbi, std::string_view key) const;
  void put(MDB_dbi dbi, std::string_view key, std::string_view value, unsigned flags = 0);
  //! \brief Put with MDB_NOOVERWRITE. \return false when the key existed (nothing written).
  bool putNew(MDB_dbi dbi, std::string_view key, std::string_view value);
  //! \brief Reserve size bytes for key and return them to fill in place (MDB_RESERVE).
  std::span<uint8_t> reserve(MDB_dbi dbi, std::string_view key, size_t size);
  //! \return false when the key did not exist.
  bool del(MDB_dbi dbi, std::string_view key);
  /*!
   * \brief Make everything visible.  The transaction is over afterwards (even on error).
   * Blocks for the fsync unless the Env was opened with sync false.  A full file system
   * fails here (ENOSPC), and MDB_MAP_FULL may too: Env::grow() then retry.
   * \throw StoreError
   */
  void commit();
  void abort();
  //! Run fn once commit() has succeeded (never on abort; one function, the last set).
  //! fn runs after the write lock is released and must not throw (a wake-up: notify.hh).
  void afterCommit(std::function<void()> fn) { d_afterCommit = std::move(fn); }
  [[nodiscard]] bool active() const { return d_txn != nullptr; }
  [[nodiscard]] MDB_txn* get() const { return d_txn; }
  [[nodiscard]] const std::shared_ptr<Env>& env() const { return d_env; }

private:
  void end();
  std::shared_ptr<Env> d_env;
  GatePass d_pass; //!< after d_env: left (by the destructor body or end()) while the Env is held
  MDB_txn* d_txn = nullptr;
  std::function<void()> d_afterCommit;
};

//! A cursor; destroy it before its transaction ends.
class Cursor
{
public:
  Cursor(MDB_txn* txn, MDB_dbi dbi);
  ~Cursor();
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;

  //! \brief Position with op (MDB_FIRST, MDB_NEXT, MDB_SET_RANGE, ...). \return false at NOTFOUND
  bool get(MDB_cursor_op op, MDB_val& key, MDB_val& value);
  //! \brief First key >= key. \return false when none.
  bool seek(std::string_view key, MDB_val& foundKey, MDB_val& value);
  void put(std::string_view key, std::string_view value, unsigned flags = 0);
  [[nodiscard]] MDB_cursor* get() const { return d_cursor; }

private:
  MDB_cursor* d_cursor = nullptr;
};

} // namespace dmarcwatch::collector::lmdb
