#!/usr/bin/env node
// Compatibility harness: drives a FastDFS cluster with the independent npm
// client `fdfs` 1.0.4 (written for FastDFS 4.x/5.x) and asserts real content.
//
//   node compat.mjs --tracker 127.0.0.5:22122 --workdir DIR [--verbose]
//   node compat.mjs --tracker ... --workdir DIR --upload-out FILE
//   node compat.mjs --tracker ... --workdir DIR --verify-in FILE
//
// stdout carries exactly one JSON object (one line):
//   {"passed":[..],"failed":[{"name","error"}],"skipped":[..],"files":{..},"info":{..}}
// Exit code: 0 all checks passed, 1 a check failed, 2 usage error / global
// timeout / internal error. Everything else (progress, fdfs logging) goes to stderr.
// See README.md for the API facts and faults of the fdfs package.

import { parseArgs, format } from 'node:util';
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';

const require = createRequire(import.meta.url);

// ---------------------------------------------------------------- arguments

const USAGE = `usage: node compat.mjs --tracker HOST:PORT[,HOST:PORT...] [--workdir DIR] [options]

  --tracker HOST:PORT     tracker address (repeatable or comma separated)
  --workdir DIR           scratch directory (created if missing; default: a new temp dir)
  --verbose               progress and fdfs client logging on stderr
  --group NAME            upload into this group (default: tracker chooses)
  --upload-out FILE       upload 1 KB / 64 KB / 1 MB files (+ an appender file) with
                          metadata, do NOT delete them, write [{fileId,sha256,size,crc32,
                          metadata,...}] to FILE
  --verify-in FILE        read [{fileId, sha256, size?, crc32?, metadata?}] and verify each
                          file by downloading it with the npm client
  --basic                 also run the basic suite when --upload-out/--verify-in is given
                          (without those options the basic suite always runs)
  --timeout MS            socket idle timeout handed to the fdfs client (default 10000)
  --op-timeout MS         give up on one fdfs call after MS (default 15000)
  --global-timeout SEC    abort everything after SEC seconds (default 60)
  --time-tolerance SEC    allowed |file timestamp - now| (default 120)
  --help                  this text`;

function usageError(msg) {
  process.stderr.write(`compat.mjs: ${msg}\n${USAGE}\n`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    strict: true,
    allowPositionals: false,
    options: {
      tracker: { type: 'string', multiple: true },
      workdir: { type: 'string' },
      verbose: { type: 'boolean', short: 'v', default: false },
      group: { type: 'string' },
      'upload-out': { type: 'string' },
      'verify-in': { type: 'string' },
      basic: { type: 'boolean', default: false },
      timeout: { type: 'string', default: '10000' },
      'op-timeout': { type: 'string', default: '15000' },
      'global-timeout': { type: 'string', default: '60' },
      'time-tolerance': { type: 'string', default: '120' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }).values;
} catch (e) {
  usageError(e.message);
}
if (args.help) {
  process.stdout.write(USAGE + '\n');
  process.exit(0);
}

function posInt(name) {
  const v = Number(args[name]);
  if (!Number.isFinite(v) || v <= 0) usageError(`--${name} must be a positive number, got '${args[name]}'`);
  return v;
}

const trackers = (args.tracker || [])
  .flatMap((t) => t.split(','))
  .map((t) => t.trim())
  .filter(Boolean)
  .map((t) => {
    const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(t);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) usageError(`bad --tracker '${t}', expected HOST:PORT`);
    return { host: m[1], port: Number(m[2]) };
  });
if (trackers.length === 0) usageError('--tracker is required');

const VERBOSE = args.verbose;
const SOCKET_TIMEOUT = posInt('timeout');
const OP_TIMEOUT = posInt('op-timeout');
const GLOBAL_TIMEOUT_MS = posInt('global-timeout') * 1000;
const TIME_TOLERANCE = posInt('time-tolerance');
const GROUP = args.group;
if (GROUP !== undefined && !/^[A-Za-z0-9]{1,16}$/.test(GROUP)) usageError(`bad --group '${GROUP}'`);
const RUN_BASIC = args.basic || (!args['upload-out'] && !args['verify-in']);

function log(...a) {
  if (VERBOSE) process.stderr.write(format(...a) + '\n');
}

// ---------------------------------------------------------------- result state

const result = { passed: [], failed: [], skipped: [], files: {}, info: {} };
const passedSet = new Set();
let currentCheck = null;
let currentOp = null;
let finished = false;
let workdir;

function finish(code) {
  if (finished) return;
  finished = true;
  result.info.elapsedMs = Date.now() - startedAt;
  result.info.connectionsOpened = socketsOpened;
  result.info.connectionsStillOpen = openSockets.size;
  const line = JSON.stringify(result);
  if (workdir) {
    try {
      fs.writeFileSync(path.join(workdir, 'compat-result.json'), JSON.stringify(result, null, 2) + '\n');
    } catch { /* best effort */ }
  }
  for (const s of openSockets) s.destroy();
  if (code === undefined) code = result.failed.length > 0 ? 1 : 0;
  process.exitCode = code;
  process.stdout.write(line + '\n', () => process.exit(code));
}

const startedAt = Date.now();
const globalTimer = setTimeout(() => {
  const where = currentCheck ? ` while running check '${currentCheck}'` + (currentOp ? ` (fdfs call: ${currentOp})` : '') : '';
  result.failed.push({ name: 'global-timeout', error: `aborted after ${GLOBAL_TIMEOUT_MS / 1000} s${where}` });
  process.stderr.write(`compat.mjs: global timeout after ${GLOBAL_TIMEOUT_MS / 1000} s${where}\n`);
  finish(2);
}, GLOBAL_TIMEOUT_MS);

process.on('uncaughtException', (err) => {
  // fdfs throws from inside socket callbacks in a few places (see README).
  result.failed.push({ name: currentCheck ? `${currentCheck}` : 'internal', error: `uncaught exception: ${describe(err)}` });
  process.stderr.write(`compat.mjs: uncaught exception: ${err && err.stack ? err.stack : err}\n`);
  finish(2);
});
process.on('unhandledRejection', (err) => {
  log('unhandled rejection (ignored): %s', describe(err));
});

// ---------------------------------------------------------------- socket tracking
// fdfs opens one TCP connection per tracker query and per storage command and
// closes it with QUIT + FIN. Track them so we can (a) report lingering
// connections and (b) destroy them so the process exits.

const openSockets = new Set();
let socketsOpened = 0;
const origConnect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...a) {
  if (!this.__compatTracked) {
    this.__compatTracked = true;
    socketsOpened++;
    openSockets.add(this);
    this.once('close', () => openSockets.delete(this));
  }
  return origConnect.apply(this, a);
};

// ---------------------------------------------------------------- fdfs client

const fdfsLog = [];
const fdfsLogger = {};
for (const level of ['log', 'trace', 'debug', 'info', 'warn', 'error', 'fatal']) {
  fdfsLogger[level] = (...a) => {
    // fdfs logs socket errors as (text, err): keep the message, drop the stack
    const msg = format(...a.map((x) => (x instanceof Error ? x.message : x)));
    if (level === 'error' || level === 'warn' || level === 'fatal') {
      fdfsLog.push(msg);
      if (fdfsLog.length > 20) fdfsLog.shift();
    }
    // never stdout: the default fdfs logger is console (info/debug go to stdout)
    if (VERBOSE) process.stderr.write(`  [fdfs ${level}] ${msg}\n`);
  };
}

const FdfsClient = require('fdfs');
const fdfsVersion = require('fdfs/package.json').version;
const fdfs = new FdfsClient({
  trackers,
  timeout: SOCKET_TIMEOUT,
  charset: 'utf8',
  defaultExt: '',
  logger: fdfsLogger,
});
result.info.client = `fdfs@${fdfsVersion}`;
result.info.node = process.version;
result.info.trackers = trackers.map((t) => `${t.host}:${t.port}`);

// ---------------------------------------------------------------- helpers

function describe(err) {
  if (err === undefined || err === null) return String(err);
  if (typeof err === 'string') return err; // fdfs listGroups/listStorages reject with strings
  if (err instanceof Error) {
    if (err.wrapped) return err.message; // op() already folded errno/code into the text
    let s = err.message;
    const extra = [];
    if (err.errno !== undefined) extra.push(`errno ${err.errno}`);
    if (err.code !== undefined && err.code !== err.errno) extra.push(`code ${err.code}`);
    if (extra.length) s += ` [${extra.join(', ')}]`;
    return s;
  }
  try { return JSON.stringify(err); } catch { return String(err); }
}

function errorShape(err) {
  if (typeof err === 'string') return { type: 'string', message: err };
  if (!(err instanceof Error)) return { type: typeof err, value: String(err) };
  return { type: err.constructor.name, message: err.message, errno: err.errno, code: err.code };
}

/** Run one fdfs call with its own deadline: fdfs never settles its promise if
 *  the server closes the connection or goes silent after connect. */
function op(label, fn) {
  currentOp = label;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      const e = new Error(`${label}: no answer within ${OP_TIMEOUT} ms (fdfs never settled: server closed the connection or stopped answering?)`);
      e.timedOut = true;
      reject(e);
    }, OP_TIMEOUT);
    Promise.resolve()
      .then(fn)
      .then(
        (v) => { clearTimeout(timer); currentOp = null; resolve(v); },
        (err) => {
          clearTimeout(timer);
          currentOp = null;
          let msg = `${label}: ${describe(err)}`;
          if (err instanceof Error && /all trackers connect fail/.test(err.message)) {
            const last = fdfsLog.filter((m) => /connect to tracker server/.test(m)).slice(-1)[0];
            if (last) msg += ` (last tracker error: ${last})`;
          }
          const e = new Error(msg);
          e.wrapped = true;
          e.original = err;
          if (err && typeof err === 'object') {
            e.errno = err.errno;
            e.code = err.code;
          }
          reject(e);
        },
      );
  });
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

function sha256(buf) {
  return crypto.createHash('sha256').update(buf).digest('hex');
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** Standard CRC-32 (zlib). Table implementation; cross-checked with zlib.crc32 when present. */
function crc32(buf) {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
if (crc32(Buffer.from('123456789')) !== 0xcbf43926) throw new Error('crc32 self-test failed');
if (typeof zlib.crc32 === 'function') {
  const probe = crypto.randomBytes(4096);
  if ((zlib.crc32(probe) >>> 0) !== crc32(probe)) throw new Error('crc32 disagrees with zlib.crc32');
}

function hex32(n) {
  return '0x' + (n >>> 0).toString(16).padStart(8, '0');
}

function assertBufEq(actual, expected, what) {
  assert(Buffer.isBuffer(actual), `${what}: got ${typeof actual}, not a Buffer`);
  if (actual.equals(expected)) return;
  let i = 0;
  const n = Math.min(actual.length, expected.length);
  while (i < n && actual[i] === expected[i]) i++;
  throw new Error(
    `${what}: content differs (got ${actual.length} bytes sha256 ${sha256(actual).slice(0, 16)}, ` +
      `expected ${expected.length} bytes sha256 ${sha256(expected).slice(0, 16)}, first difference at offset ${i})`,
  );
}

function sameMeta(actual, expected) {
  if (!actual || typeof actual !== 'object') return false;
  const a = Object.keys(actual).sort();
  const e = Object.keys(expected).sort();
  return a.length === e.length && a.every((k, i) => k === e[i] && String(actual[k]) === String(expected[k]));
}

/** Random content whose CRC32 has bit 31 set, so the sign extension of the
 *  CRC32 field in QUERY_FILE_INFO is observable through fdfs. */
function randomWithHighCrc(size) {
  for (;;) {
    const b = crypto.randomBytes(size);
    if (crc32(b) >= 0x80000000) return b;
  }
}

class Collector extends Writable {
  constructor() {
    super();
    this.chunks = [];
  }
  _write(chunk, _enc, cb) {
    this.chunks.push(Buffer.from(chunk));
    cb();
  }
  result() {
    return Buffer.concat(this.chunks);
  }
}

// ---- thin wrappers over the fdfs API (argument shapes documented in README)

function upload(data, options, label = 'upload') {
  return op(label, () => fdfs.upload(data, { ...options }));
}

async function download(fileId, range = {}, label = 'download') {
  const target = new Collector();
  await op(label, () => fdfs.download(fileId, { target, ...range }));
  return target.result();
}

async function expectErrno(label, fn, errno) {
  try {
    await op(label, fn);
  } catch (e) {
    const orig = e.original !== undefined ? e.original : e;
    if (e.timedOut) throw e;
    if (orig && orig.errno === errno) return errorShape(orig);
    throw new Error(`${label}: expected a failure with errno ${errno}, got: ${describe(orig)}`);
  }
  throw new Error(`${label}: expected a failure with errno ${errno}, but it succeeded`);
}

/** Decode the 27-char base64 core of a FastDFS file name (section 6 of the protocol notes). */
function decodeFileId(fileId) {
  const m = /^([A-Za-z0-9]{1,16})\/(M[0-9A-F]{2})\/([0-9A-F]{2})\/([0-9A-F]{2})\/([A-Za-z0-9_-]{27})(.+)$/.exec(fileId);
  if (!m) return null;
  const raw = Buffer.from(m[5].replace(/-/g, '+').replace(/_/g, '/') + '=', 'base64');
  if (raw.length < 20) return null;
  const idLE = raw.readUInt32LE(0);
  const sizeField = raw.readBigUInt64BE(8);
  const appender = (sizeField & (1n << 58n)) !== 0n;
  const trunk = (sizeField & (1n << 59n)) !== 0n;
  const hiBit = (sizeField & (1n << 63n)) !== 0n;
  return {
    group: m[1],
    storePath: m[2],
    rest: m[6],
    // trunk files carry a 16-char trunk location before the 7-char extension part
    extPart: trunk && m[6].length === 23 ? m[6].slice(16) : m[6],
    source: idLE <= 0xffffff ? { serverId: idLE } : { ip: `${raw[0]}.${raw[1]}.${raw[2]}.${raw[3]}` },
    timestamp: raw.readUInt32BE(4),
    sizeField: '0x' + sizeField.toString(16).padStart(16, '0'),
    appender,
    trunk,
    size: appender ? null : hiBit || trunk ? Number(sizeField & 0xffffffffn) : Number(sizeField),
    crc32: raw.readUInt32BE(16),
  };
}

function assertFileIdFormat(fileId, content, ext, what) {
  const d = decodeFileId(fileId);
  assert(d, `${what}: file ID '${fileId}' does not look like group/Mxx/HH/HH/<27 base64 chars><ext part>`);
  if (GROUP) assert(d.group === GROUP, `${what}: group '${d.group}', asked for '${GROUP}'`);
  const extRe = ext ? new RegExp(`^[0-9]{${6 - ext.length}}\\.${ext.replace(/\./g, '\\.')}$`) : /^[0-9]{7}$/;
  assert(extRe.test(d.extPart), `${what}: extension part '${d.extPart}' of '${fileId}' does not match ${extRe}`);
  assert(!d.appender, `${what}: appender bit set in the name of a normal file (${d.sizeField})`);
  assert(d.size === content.length, `${what}: size encoded in name is ${d.size}, content is ${content.length} (${d.sizeField})`);
  assert(d.crc32 === crc32(content), `${what}: CRC32 in name ${hex32(d.crc32)} != crc32(content) ${hex32(crc32(content))}`);
  return d;
}

// ---------------------------------------------------------------- check runner

async function check(name, fn, needs = []) {
  if (finished) return;
  const missing = [...(name === 'tracker-reachable' ? [] : ['tracker-reachable']), ...needs].filter((n) => !passedSet.has(n));
  if (missing.length) {
    result.skipped.push({ name, reason: `needs ${missing.join(', ')}` });
    log('[SKIP] %s (needs %s)', name, missing.join(', '));
    return;
  }
  currentCheck = name;
  const t0 = Date.now();
  try {
    await fn();
    if (finished) return;
    result.passed.push(name);
    passedSet.add(name);
    log('[PASS] %s (%d ms)', name, Date.now() - t0);
  } catch (e) {
    if (finished) return;
    const error = describe(e);
    result.failed.push({ name, error });
    log('[FAIL] %s (%d ms): %s', name, Date.now() - t0, error);
  } finally {
    currentCheck = null;
  }
}

// ---------------------------------------------------------------- preflight

/** Plain TCP connect to every tracker (not through fdfs, whose own connect
 *  errors only reach its logger): without one reachable tracker nothing else runs. */
async function preflight() {
  await check('tracker-reachable', async () => {
    const errs = [];
    for (const t of trackers) {
      try {
        await new Promise((resolve, reject) => {
          const s = new net.Socket();
          s.__compatTracked = true; // not an fdfs connection: keep it out of the counts
          s.connect({ host: t.host, port: t.port });
          const timer = setTimeout(() => { s.destroy(); reject(new Error(`connect timed out after ${SOCKET_TIMEOUT} ms`)); }, SOCKET_TIMEOUT);
          s.once('error', (e) => { clearTimeout(timer); reject(e); });
          s.once('connect', () => { clearTimeout(timer); s.end(); resolve(); });
        });
        return;
      } catch (e) {
        errs.push(`${t.host}:${t.port}: ${e.message}`);
      }
    }
    throw new Error(`cannot connect to any tracker (${errs.join('; ')})`);
  });
}

// ---------------------------------------------------------------- basic suite

async function basicSuite() {
  const files = (result.files.basic = {});
  const errors = (result.info.errorShapes = {});
  const content = randomWithHighCrc(100 * 1024);
  const baseOpts = GROUP ? { group: GROUP } : {};
  let fileId;
  let uploadWindow;

  await check('upload-100k', async () => {
    const t0 = Math.floor(Date.now() / 1000);
    fileId = await upload(content, { ...baseOpts, ext: 'bin' }, 'upload(100 KB, ext bin)');
    uploadWindow = [t0, Math.ceil(Date.now() / 1000)];
    assert(typeof fileId === 'string' && fileId.length > 0, `upload returned ${JSON.stringify(fileId)}`);
    files.main = fileId;
    files.mainSha256 = sha256(content);
  });

  await check('fileid-format', async () => {
    const d = assertFileIdFormat(fileId, content, 'bin', 'main file');
    result.info.mainFileIdDecoded = d;
    assert(
      d.timestamp >= uploadWindow[0] - TIME_TOLERANCE && d.timestamp <= uploadWindow[1] + TIME_TOLERANCE,
      `timestamp in name ${d.timestamp} not within ${TIME_TOLERANCE} s of the upload window ${uploadWindow}`,
    );
  }, ['upload-100k']);

  await check('download-whole', async () => {
    assertBufEq(await download(fileId, {}, 'download(whole)'), content, 'whole download');
  }, ['upload-100k']);

  await check('download-range', async () => {
    const got = await download(fileId, { offset: 1000, bytes: 500 }, 'download(offset 1000, bytes 500)');
    assertBufEq(got, content.subarray(1000, 1500), 'range download');
  }, ['upload-100k']);

  await check('download-range-to-end', async () => {
    const got = await download(fileId, { offset: 99000 }, 'download(offset 99000, bytes 0 = to end)');
    assertBufEq(got, content.subarray(99000), 'download to end');
  }, ['upload-100k']);

  await check('download-range-clipped', async () => {
    const off = content.length - 10;
    const got = await download(fileId, { offset: off, bytes: 100 }, `download(offset ${off}, bytes 100)`);
    assertBufEq(got, content.subarray(off), 'download past the end (expected clipped to 10 bytes)');
  }, ['upload-100k']);

  await check('download-to-path', async () => {
    const p = path.join(workdir, `download-${process.pid}.bin`);
    try {
      await op('download(to local path)', () => fdfs.download(fileId, p));
      assertBufEq(await fsp.readFile(p), content, 'download to path');
    } finally {
      await fsp.rm(p, { force: true });
    }
  }, ['upload-100k']);

  await check('getmetadata-none-enoent', async () => {
    errors.getMetaDataWithoutMetadata = await expectErrno('getMetaData(no metadata yet)', () => fdfs.getMetaData(fileId), 2);
  }, ['upload-100k']);

  await check('metadata-overwrite', async () => {
    await op("setMetaData(flag 'O')", () => fdfs.setMetaData(fileId, { width: '1024', height: '768' }, 'O'));
    const md = await op('getMetaData', () => fdfs.getMetaData(fileId));
    assert(sameMeta(md, { width: '1024', height: '768' }), `after 'O': got ${JSON.stringify(md)}, expected {width:'1024',height:'768'}`);
  }, ['upload-100k']);

  await check('metadata-merge', async () => {
    await op("setMetaData(flag 'M')", () => fdfs.setMetaData(fileId, { height: '800', author: 'x' }, 'M'));
    const md = await op('getMetaData', () => fdfs.getMetaData(fileId));
    const exp = { width: '1024', height: '800', author: 'x' };
    assert(sameMeta(md, exp), `after 'M': got ${JSON.stringify(md)}, expected ${JSON.stringify(exp)}`);
    files.mainMetadata = md;
  }, ['metadata-overwrite']);

  await check('metadata-sorted-by-name', async () => {
    // fdfs keeps wire order in the parsed object; the storage sorts records by name.
    const md = await op('getMetaData', () => fdfs.getMetaData(fileId));
    const keys = Object.keys(md);
    const sorted = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    assert(keys.join(',') === sorted.join(','), `records not sorted by name on the wire: ${keys.join(',')}`);
  }, ['metadata-merge']);

  await check('fileinfo', async () => {
    const info = await op('getFileInfo', () => fdfs.getFileInfo(fileId));
    result.info.mainFileInfo = info;
    assert(info && typeof info === 'object', `getFileInfo returned ${JSON.stringify(info)}`);
    assert(info.size === content.length, `size ${info.size}, expected ${content.length}`);
    const exp = crc32(content);
    assert((info.crc32 >>> 0) === exp, `crc32 ${hex32(info.crc32)} (raw ${info.crc32}), expected ${hex32(exp)}`);
    const now = Date.now() / 1000;
    assert(Number.isFinite(info.timestamp) && Math.abs(info.timestamp - now) <= TIME_TOLERANCE,
      `timestamp ${info.timestamp} not within ${TIME_TOLERANCE} s of now (${Math.floor(now)})`);
    assert(typeof info.addr === 'string' && info.addr.length > 0, `source addr ${JSON.stringify(info.addr)} is not a non-empty string`);
    const d = decodeFileId(fileId);
    if (d && d.source.ip && net.isIPv4(info.addr)) {
      assert(info.addr === d.source.ip, `source addr ${info.addr} != IP encoded in the file name ${d.source.ip}`);
    }
  }, ['upload-100k']);

  await check('fileinfo-crc32-sign-extended', async () => {
    // 6.16 writes the 32-bit CRC sign-extended into the 8-byte field; fdfs's
    // buffer2Number turns that into a negative number. The content was chosen
    // with bit 31 of its CRC set, so a faithful server yields crc32 < 0 here.
    const info = await op('getFileInfo', () => fdfs.getFileInfo(fileId));
    const exp = crc32(content);
    assert(info.crc32 === exp - 0x100000000,
      `raw crc32 as decoded by fdfs is ${info.crc32}; a sign-extended ${hex32(exp)} decodes to ${exp - 0x100000000}` +
        (info.crc32 === exp ? ' (server sent it zero-extended)' : ''));
  }, ['fileinfo']);

  await check('delete', async () => {
    await op('del', () => fdfs.del(fileId));
  }, ['upload-100k']);

  await check('deleted-download-enoent', async () => {
    errors.downloadAfterDelete = await expectErrno('download(after delete)', () => fdfs.download(fileId, new Collector()), 2);
  }, ['delete']);

  await check('deleted-fileinfo-enoent', async () => {
    errors.getFileInfoAfterDelete = await expectErrno('getFileInfo(after delete)', () => fdfs.getFileInfo(fileId), 2);
  }, ['delete']);

  await check('deleted-metadata-enoent', async () => {
    errors.getMetaDataAfterDelete = await expectErrno('getMetaData(after delete)', () => fdfs.getMetaData(fileId), 2);
  }, ['delete']);

  await check('deleted-delete-enoent', async () => {
    errors.deleteTwice = await expectErrno('del(again)', () => fdfs.del(fileId), 2);
  }, ['delete']);

  // ---- other upload paths of the package: local path (ext from name) and ReadableStream
  const cleanup = [];

  await check('upload-from-path', async () => {
    const data = crypto.randomBytes(3000);
    const p = path.join(workdir, `sample-${process.pid}.txt`);
    await fsp.writeFile(p, data);
    let id;
    try {
      id = await upload(p, { ...baseOpts }, 'upload(local path *.txt)');
    } finally {
      await fsp.rm(p, { force: true });
    }
    cleanup.push(id);
    files.fromPath = id;
    assertFileIdFormat(id, data, 'txt', 'path upload');
    assertBufEq(await download(id), data, 'path upload round trip');
  });

  await check('upload-stream-300k', async () => {
    // larger than the storage's 256 KiB buff_size: exercises streamed receive
    const data = crypto.randomBytes(300 * 1024 + 7);
    const p = path.join(workdir, `stream-${process.pid}.dat`);
    await fsp.writeFile(p, data);
    let id;
    try {
      id = await upload(fs.createReadStream(p), { ...baseOpts, size: data.length, ext: 'dat' }, 'upload(ReadableStream 300 KB)');
    } finally {
      await fsp.rm(p, { force: true });
    }
    cleanup.push(id);
    files.fromStream = id;
    assertFileIdFormat(id, data, 'dat', 'stream upload');
    assertBufEq(await download(id), data, 'stream upload round trip');
  });

  await check('upload-no-ext', async () => {
    const data = crypto.randomBytes(1234);
    const id = await upload(data, { ...baseOpts }, 'upload(no ext)');
    cleanup.push(id);
    files.noExt = id;
    assertFileIdFormat(id, data, '', 'no-ext upload');
    assertBufEq(await download(id), data, 'no-ext round trip');
  });

  // ---- appender files
  const partA = crypto.randomBytes(3000);
  const partB = crypto.randomBytes(2000);
  const partC = crypto.randomBytes(500);
  const partD = crypto.randomBytes(400);
  let appenderId;
  let expected;

  await check('appender-upload', async () => {
    appenderId = await upload(partA, { ...baseOpts, ext: 'log', method: 'uploadAppender' }, 'upload(method uploadAppender)');
    cleanup.push(appenderId);
    files.appender = appenderId;
    const d = decodeFileId(appenderId);
    assert(d, `appender file ID '${appenderId}' is malformed`);
    assert(d.appender, `appender bit (58) not set in the name's size field ${d.sizeField}`);
    assert(/^[0-9]{3}\.log$/.test(d.extPart), `extension part '${d.extPart}' does not match ddd.log`);
    assertBufEq(await download(appenderId), partA, 'appender initial content');
  });

  await check('appender-append', async () => {
    await upload(partB, { method: 'append', fileId: appenderId }, 'upload(method append)');
    expected = Buffer.concat([partA, partB]);
    assertBufEq(await download(appenderId), expected, 'after append');
  }, ['appender-upload']);

  await check('appender-modify', async () => {
    await upload(partC, { method: 'modify', fileId: appenderId, offset: 1000 }, 'upload(method modify, offset 1000)');
    expected = Buffer.from(expected);
    partC.copy(expected, 1000);
    assertBufEq(await download(appenderId), expected, 'after modify at 1000');
  }, ['appender-append']);

  await check('appender-modify-extends', async () => {
    const off = expected.length - 100;
    await upload(partD, { method: 'modify', fileId: appenderId, offset: off }, `upload(method modify, offset ${off})`);
    expected = Buffer.concat([expected.subarray(0, off), partD]);
    assertBufEq(await download(appenderId), expected, 'after modify past the end');
  }, ['appender-modify']);

  await check('appender-fileinfo', async () => {
    const info = await op('getFileInfo(appender)', () => fdfs.getFileInfo(appenderId));
    result.info.appenderFileInfo = info;
    assert(info.size === expected.length, `size ${info.size}, expected ${expected.length}`);
    const exp = crc32(expected);
    assert((info.crc32 >>> 0) === exp, `crc32 ${hex32(info.crc32)}, expected crc32 of current content ${hex32(exp)}`);
  }, ['appender-modify-extends']);

  await check('append-to-normal-file-einval', async () => {
    const target = files.noExt || files.fromPath;
    assert(target, 'no normal file left to try');
    errors.appendToNormalFile = await expectErrno('upload(method append) on a normal file',
      () => fdfs.upload(crypto.randomBytes(10), { method: 'append', fileId: target }), 22);
  }, ['upload-no-ext']);

  // ---- tracker listings: fdfs expects the 5.x record sizes (105 / 600 bytes)
  await check('list-groups-113-byte-records', async () => {
    let res;
    try {
      res = await op('listGroups', () => fdfs.listGroups());
    } catch (e) {
      const msg = typeof e.original === 'string' ? e.original : describe(e);
      result.info.listGroups = msg;
      const m = /byte array length:(\d+) is invalid/.exec(msg);
      assert(m, `listGroups failed unexpectedly: ${msg}`);
      const n = Number(m[1]);
      assert(n > 0 && n % 113 === 0, `list-groups body is ${n} bytes, not a multiple of the 6.16 record size 113`);
      return;
    }
    result.info.listGroups = res;
    throw new Error(`fdfs parsed the list as ${res.count} pre-6.13.1 105-byte records: the server does not send 113-byte records`);
  });

  await check('list-storages-487-byte-records', async () => {
    const group = decodeFileId(files.noExt || files.fromPath || '')?.group;
    assert(group, 'no group known (uploads failed)');
    let res;
    try {
      res = await op(`listStorages(${group})`, () => fdfs.listStorages(group));
    } catch (e) {
      const msg = typeof e.original === 'string' ? e.original : describe(e);
      result.info.listStorages = msg;
      const m = /byte array length:(\d+) is invalid/.exec(msg);
      assert(m, `listStorages failed unexpectedly: ${msg}`);
      const n = Number(m[1]);
      assert(n > 0 && n % 487 === 0, `list-storage body is ${n} bytes, not a multiple of the 6.16 IPv4 record size 487`);
      return;
    }
    result.info.listStorages = { count: res.count };
    throw new Error(`fdfs parsed the list as ${res.count} old 600-byte records: the server does not send 487-byte records`);
  }, ['upload-no-ext']);

  if (cleanup.length) await check('cleanup', async () => {
    const errs = [];
    for (const id of cleanup) {
      try {
        await op(`del(${id})`, () => fdfs.del(id));
      } catch (e) {
        errs.push(describe(e));
      }
    }
    assert(errs.length === 0, errs.join('; '));
  });
}

// ---------------------------------------------------------------- cross-client: upload-out

async function uploadOut(file) {
  const specs = [
    { name: 'small-1k', size: 1024, ext: 'txt', metadata: { kind: 'small', source: 'fdfs-npm', size: '1024' } },
    { name: 'medium-64k', size: 64 * 1024, ext: 'bin', metadata: { kind: 'medium', source: 'fdfs-npm', size: '65536' } },
    { name: 'large-1m', size: 1024 * 1024, ext: 'dat', metadata: { kind: 'large', source: 'fdfs-npm', size: '1048576', note: 'x=1;y=2' } },
    { name: 'appender-12k', size: 12 * 1024, ext: 'log', appender: true, metadata: { kind: 'appender', source: 'fdfs-npm' } },
  ];
  const out = [];
  result.files.uploaded = out;
  const baseOpts = GROUP ? { group: GROUP } : {};
  for (const s of specs) {
    await check(`upload-out:${s.name}`, async () => {
      const data = crypto.randomBytes(s.size);
      let fileId;
      if (s.appender) {
        const half = s.size / 2;
        fileId = await upload(data.subarray(0, half), { ...baseOpts, ext: s.ext, method: 'uploadAppender' }, `uploadAppender(${s.name})`);
        await upload(data.subarray(half), { method: 'append', fileId }, `append(${s.name})`);
      } else {
        fileId = await upload(data, { ...baseOpts, ext: s.ext }, `upload(${s.name})`);
      }
      const entry = { name: s.name, fileId, size: data.length, sha256: sha256(data), crc32: crc32(data), ext: s.ext, appender: !!s.appender, metadata: s.metadata };
      out.push(entry);
      await op(`setMetaData(${s.name}, 'O')`, () => fdfs.setMetaData(fileId, s.metadata, 'O'));
      // read back through the same client so a bad upload is caught here already
      assertBufEq(await download(fileId, {}, `download(${s.name})`), data, `${s.name} round trip`);
      const md = await op(`getMetaData(${s.name})`, () => fdfs.getMetaData(fileId));
      assert(sameMeta(md, s.metadata), `${s.name} metadata: got ${JSON.stringify(md)}, expected ${JSON.stringify(s.metadata)}`);
    });
  }
  // written even if some uploads failed: the entries that exist are real
  await fsp.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await fsp.writeFile(file, JSON.stringify(out, null, 2) + '\n');
  result.files.uploadOut = path.resolve(file);
}

// ---------------------------------------------------------------- cross-client: verify-in

async function verifyIn(file) {
  let list;
  try {
    list = JSON.parse(await fsp.readFile(file, 'utf8'));
  } catch (e) {
    result.failed.push({ name: 'verify-in:read', error: `cannot read ${file}: ${e.message}` });
    return;
  }
  if (list && !Array.isArray(list) && Array.isArray(list.files)) list = list.files;
  if (!Array.isArray(list)) {
    result.failed.push({ name: 'verify-in:read', error: `${file}: expected a JSON list of {fileId, sha256, metadata?}` });
    return;
  }
  const verified = (result.files.verified = []);
  for (let i = 0; i < list.length; i++) {
    const e = list[i] || {};
    const rec = { fileId: e.fileId, ok: false };
    verified.push(rec);
    await check(`verify:${i}:${e.fileId || '?'}`, async () => {
      assert(typeof e.fileId === 'string' && e.fileId.includes('/'), `entry ${i}: missing or bad fileId`);
      assert(typeof e.sha256 === 'string' && /^[0-9a-fA-F]{64}$/.test(e.sha256), `entry ${i}: missing or bad sha256`);
      const data = await download(e.fileId, {}, `download(${e.fileId})`);
      rec.size = data.length;
      rec.sha256 = sha256(data);
      if (e.size !== undefined) assert(data.length === Number(e.size), `size ${data.length}, expected ${e.size}`);
      assert(rec.sha256 === e.sha256.toLowerCase(), `sha256 ${rec.sha256}, expected ${e.sha256.toLowerCase()} (${data.length} bytes)`);
      if (e.crc32 !== undefined) {
        const info = await op(`getFileInfo(${e.fileId})`, () => fdfs.getFileInfo(e.fileId));
        rec.fileInfo = info;
        assert(info.size === data.length, `getFileInfo size ${info.size} != downloaded ${data.length}`);
        assert((info.crc32 >>> 0) === (Number(e.crc32) >>> 0), `getFileInfo crc32 ${hex32(info.crc32)}, expected ${hex32(Number(e.crc32))}`);
      }
      if (e.metadata !== undefined && e.metadata !== null) {
        if (Object.keys(e.metadata).length === 0) {
          // {} means "this file must have no metadata": get-metadata answers ENOENT
          await expectErrno(`getMetaData(${e.fileId})`, () => fdfs.getMetaData(e.fileId), 2);
          rec.metadata = {};
        } else {
          const md = await op(`getMetaData(${e.fileId})`, () => fdfs.getMetaData(e.fileId));
          rec.metadata = md;
          assert(sameMeta(md, e.metadata), `metadata ${JSON.stringify(md)}, expected ${JSON.stringify(e.metadata)}`);
        }
      }
      rec.ok = true;
    });
  }
}

// ---------------------------------------------------------------- main

async function main() {
  workdir = args.workdir
    ? path.resolve(args.workdir)
    : await fsp.mkdtemp(path.join((await import('node:os')).tmpdir(), 'fdfs-compat-'));
  await fsp.mkdir(workdir, { recursive: true });
  result.info.workdir = workdir;
  log('fdfs compat: client fdfs@%s, trackers %s, workdir %s', fdfsVersion, result.info.trackers.join(' '), workdir);

  await preflight();
  if (RUN_BASIC) await basicSuite();
  if (args['upload-out']) await uploadOut(args['upload-out']);
  if (args['verify-in']) await verifyIn(args['verify-in']);

  if (finished) return;
  // Every fdfs operation ends with QUIT + FIN; the servers must close their side.
  if (result.passed.length > 0 && !result.failed.some((f) => /no answer within/.test(f.error))) {
    await check('connections-closed', async () => {
      const deadline = Date.now() + 3000;
      while (openSockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const left = [...openSockets].map((s) => `${s.remoteAddress || '?'}:${s.remotePort || '?'}`);
      const shown = left.slice(0, 8).join(', ') + (left.length > 8 ? ', ...' : '');
      assert(left.length === 0, `${left.length} of ${socketsOpened} fdfs connections still open 3 s after QUIT + FIN: ${shown}`);
    });
  }
  clearTimeout(globalTimer);
  finish();
}

main().catch((e) => {
  result.failed.push({ name: 'internal', error: describe(e) });
  process.stderr.write(`compat.mjs: ${e && e.stack ? e.stack : e}\n`);
  finish(2);
});
