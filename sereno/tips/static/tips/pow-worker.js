/* Proof of work for the tip form, in a Web Worker: find an answer such that
 * Argon2id(nonce + ":" + answer, salt "sereno-tips-pow!", 1 pass, 1 MiB, 32 bytes) starts with
 * `bits` zero bits. Argon2id (RFC 9106) and BLAKE2b (RFC 7693) written for this file, with
 * 64-bit words as pairs of 32-bit halves (low word first). The server checks one answer with
 * libsodium. Only a convenience: without JavaScript the form still works, with stricter limits.
 */
"use strict";

/* ---- BLAKE2b ------------------------------------------------------------------------------ */

const B2B_IV = new Uint32Array([
  0xf3bcc908, 0x6a09e667, 0x84caa73b, 0xbb67ae85, 0xfe94f82b, 0x3c6ef372, 0x5f1d36f1, 0xa54ff53a,
  0xade682d1, 0x510e527f, 0x2b3e6c1f, 0x9b05688c, 0xfb41bd6b, 0x1f83d9ab, 0x137e2179, 0x5be0cd19,
]);
const SIGMA = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
  [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
  [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
  [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
  [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
  [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
  [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
  [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
  [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
];

// v[i] += v[j] (64-bit words at pair index i, j)
function add64(v, i, j) {
  const lo = v[2 * i] + v[2 * j];
  const hi = v[2 * i + 1] + v[2 * j + 1] + (lo > 0xffffffff ? 1 : 0);
  v[2 * i] = lo;
  v[2 * i + 1] = hi;
}

function add64m(v, i, m, k) {
  const lo = v[2 * i] + m[2 * k];
  const hi = v[2 * i + 1] + m[2 * k + 1] + (lo > 0xffffffff ? 1 : 0);
  v[2 * i] = lo;
  v[2 * i + 1] = hi;
}

// v[i] = rotr64(v[i] ^ v[j], n)
function xorRot(v, i, j, n) {
  let lo = v[2 * i] ^ v[2 * j];
  let hi = v[2 * i + 1] ^ v[2 * j + 1];
  if (n === 32) {
    v[2 * i] = hi;
    v[2 * i + 1] = lo;
    return;
  }
  if (n > 32) {
    const t = lo;
    lo = hi;
    hi = t;
    n -= 32;
  }
  v[2 * i] = (lo >>> n) | (hi << (32 - n));
  v[2 * i + 1] = (hi >>> n) | (lo << (32 - n));
}

function b2bMix(v, m, a, b, c, d, x, y) {
  add64(v, a, b); add64m(v, a, m, x); xorRot(v, d, a, 32);
  add64(v, c, d); xorRot(v, b, c, 24);
  add64(v, a, b); add64m(v, a, m, y); xorRot(v, d, a, 16);
  add64(v, c, d); xorRot(v, b, c, 63);
}

function b2bCompress(h, block, counter, last) {
  const v = new Uint32Array(32);
  const m = new Uint32Array(32);
  for (let i = 0; i < 16; i++) v[i] = h[i];
  for (let i = 0; i < 16; i++) v[16 + i] = B2B_IV[i];
  v[24] ^= counter >>> 0;
  v[25] ^= Math.floor(counter / 4294967296);
  if (last) {
    v[28] = ~v[28];
    v[29] = ~v[29];
  }
  for (let i = 0; i < 32; i++) {
    m[i] = block[4 * i] | (block[4 * i + 1] << 8) | (block[4 * i + 2] << 16) | (block[4 * i + 3] << 24);
  }
  for (let r = 0; r < 12; r++) {
    const s = SIGMA[r % 10];
    b2bMix(v, m, 0, 4, 8, 12, s[0], s[1]);
    b2bMix(v, m, 1, 5, 9, 13, s[2], s[3]);
    b2bMix(v, m, 2, 6, 10, 14, s[4], s[5]);
    b2bMix(v, m, 3, 7, 11, 15, s[6], s[7]);
    b2bMix(v, m, 0, 5, 10, 15, s[8], s[9]);
    b2bMix(v, m, 1, 6, 11, 12, s[10], s[11]);
    b2bMix(v, m, 2, 7, 8, 13, s[12], s[13]);
    b2bMix(v, m, 3, 4, 9, 14, s[14], s[15]);
  }
  for (let i = 0; i < 16; i++) h[i] ^= v[i] ^ v[16 + i];
}

function blake2b(input, outlen) {
  const h = new Uint32Array(B2B_IV);
  h[0] ^= 0x01010000 ^ outlen;
  const block = new Uint8Array(128);
  let offset = 0;
  while (input.length - offset > 128) {
    block.set(input.subarray(offset, offset + 128));
    offset += 128;
    b2bCompress(h, block, offset, false);
  }
  block.fill(0);
  block.set(input.subarray(offset));
  b2bCompress(h, block, input.length, true);
  const out = new Uint8Array(outlen);
  for (let i = 0; i < outlen; i++) out[i] = h[i >> 2] >>> (8 * (i & 3));
  return out;
}

/* ---- Argon2id ----------------------------------------------------------------------------- */

function le32(n) {
  return new Uint8Array([n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255]);
}

function concat(parts) {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// H' (variable-length hash) of RFC 9106 section 3.3
function hashLong(outlen, input) {
  const x = concat([le32(outlen), input]);
  if (outlen <= 64) return blake2b(x, outlen);
  const out = new Uint8Array(outlen);
  const r = Math.ceil(outlen / 32) - 2;
  let v = blake2b(x, 64);
  out.set(v.subarray(0, 32), 0);
  for (let i = 1; i < r; i++) {
    v = blake2b(v, 64);
    out.set(v.subarray(0, 32), 32 * i);
  }
  v = blake2b(v, outlen - 32 * r);
  out.set(v, 32 * r);
  return out;
}

// BlaMka: x + y + 2 * lo32(x) * lo32(y), 64-bit; the result in RL (low) and RH (high).
let RL = 0;
let RH = 0;

function blamka(xl, xh, yl, yh) {
  const x0 = xl & 0xffff, x1 = xl >>> 16, y0 = yl & 0xffff, y1 = yl >>> 16;
  // 32 x 32 -> 64-bit product without floating-point division: low word by Math.imul, high
  // word from 16-bit partial products (each sum stays below 2^32).
  const m1 = x1 * y0 + ((x0 * y0) >>> 16);
  const m2 = x0 * y1 + (m1 & 0xffff);
  let ph = x1 * y1 + (m1 >>> 16) + (m2 >>> 16);
  let pl = Math.imul(xl, yl) >>> 0;
  ph = ((ph << 1) | (pl >>> 31)) >>> 0;
  pl = (pl << 1) >>> 0;
  let lo = xl + yl;
  let hi = xh + yh + (lo > 0xffffffff ? 1 : 0);
  lo = (lo >>> 0) + pl;
  RH = (hi + ph + (lo > 0xffffffff ? 1 : 0)) >>> 0;
  RL = lo >>> 0;
}

// The Argon2 G function on four 64-bit words of v, held in locals while it runs.
function gb(v, a, b, c, d) {
  const ai = 2 * a, bi = 2 * b, ci = 2 * c, di = 2 * d;
  let al = v[ai], ah = v[ai + 1], bl = v[bi], bh = v[bi + 1];
  let cl = v[ci], ch = v[ci + 1], dl = v[di], dh = v[di + 1];
  let tl, th;
  blamka(al, ah, bl, bh); al = RL; ah = RH;
  tl = dl ^ al; th = dh ^ ah; dl = th >>> 0; dh = tl >>> 0; // rotr 32
  blamka(cl, ch, dl, dh); cl = RL; ch = RH;
  tl = bl ^ cl; th = bh ^ ch; // rotr 24
  bl = ((tl >>> 24) | (th << 8)) >>> 0; bh = ((th >>> 24) | (tl << 8)) >>> 0;
  blamka(al, ah, bl, bh); al = RL; ah = RH;
  tl = dl ^ al; th = dh ^ ah; // rotr 16
  dl = ((tl >>> 16) | (th << 16)) >>> 0; dh = ((th >>> 16) | (tl << 16)) >>> 0;
  blamka(cl, ch, dl, dh); cl = RL; ch = RH;
  tl = bl ^ cl; th = bh ^ ch; // rotr 63 = rotl 1
  bl = ((tl << 1) | (th >>> 31)) >>> 0; bh = ((th << 1) | (tl >>> 31)) >>> 0;
  v[ai] = al; v[ai + 1] = ah; v[bi] = bl; v[bi + 1] = bh;
  v[ci] = cl; v[ci + 1] = ch; v[di] = dl; v[di + 1] = dh;
}

// P on 16 words given by their indices
function permute(v, w) {
  gb(v, w[0], w[4], w[8], w[12]);
  gb(v, w[1], w[5], w[9], w[13]);
  gb(v, w[2], w[6], w[10], w[14]);
  gb(v, w[3], w[7], w[11], w[15]);
  gb(v, w[0], w[5], w[10], w[15]);
  gb(v, w[1], w[6], w[11], w[12]);
  gb(v, w[2], w[7], w[8], w[13]);
  gb(v, w[3], w[4], w[9], w[14]);
}

const ROWS = [];
const COLUMNS = [];
for (let i = 0; i < 8; i++) {
  const row = [];
  const column = [];
  for (let j = 0; j < 16; j++) row.push(16 * i + j);
  for (let j = 0; j < 8; j++) column.push(2 * i + 16 * j, 2 * i + 16 * j + 1);
  ROWS.push(row);
  COLUMNS.push(column);
}

const R = new Uint32Array(256);
const Z = new Uint32Array(256);

// out = G(x, y): blocks of 256 32-bit words, given as (array, offset in words)
function compress(mem, out, xa, xo, ya, yo) {
  for (let i = 0; i < 256; i++) R[i] = xa[xo + i] ^ ya[yo + i];
  Z.set(R);
  for (let i = 0; i < 8; i++) permute(Z, ROWS[i]);
  for (let i = 0; i < 8; i++) permute(Z, COLUMNS[i]);
  for (let i = 0; i < 256; i++) mem[out + i] = Z[i] ^ R[i];
}

function bytesToWords(bytes, words, offset) {
  for (let i = 0; i < 256; i++) {
    const k = 4 * i;
    words[offset + i] = bytes[k] | (bytes[k + 1] << 8) | (bytes[k + 2] << 16) | (bytes[k + 3] << 24);
  }
}

// Argon2id, one lane, version 0x13. memKiB blocks of 1 KiB, `passes` passes.
function argon2id(password, salt, passes, memKiB, outlen) {
  const blocks = 4 * Math.floor(memKiB / 4);
  const segment = blocks / 4;
  const h0 = blake2b(
    concat([
      le32(1), le32(outlen), le32(memKiB), le32(passes), le32(0x13), le32(2),
      le32(password.length), password, le32(salt.length), salt, le32(0), le32(0),
    ]),
    64,
  );
  const mem = new Uint32Array(256 * blocks);
  bytesToWords(hashLong(1024, concat([h0, le32(0), le32(0)])), mem, 0);
  bytesToWords(hashLong(1024, concat([h0, le32(1), le32(0)])), mem, 256);
  const zero = new Uint32Array(256);
  const input = new Uint32Array(256);
  const address = new Uint32Array(256);
  for (let pass = 0; pass < passes; pass++) {
    for (let slice = 0; slice < 4; slice++) {
      const independent = pass === 0 && slice < 2;
      if (independent) {
        input.fill(0);
        input[0] = pass; input[2] = 0; input[4] = slice; input[6] = blocks; input[8] = passes;
        input[10] = 2;
      }
      const nextAddresses = () => {
        input[12] += 1;
        compress(address, 0, zero, 0, input, 0);
        compress(address, 0, zero, 0, address, 0);
      };
      let start = 0;
      if (pass === 0 && slice === 0) {
        start = 2;
        if (independent) nextAddresses();
      }
      for (let i = start; i < segment; i++) {
        const current = slice * segment + i;
        const previous = current === 0 ? blocks - 1 : current - 1;
        let rand;
        if (independent) {
          if (i % 128 === 0) nextAddresses();
          rand = address[2 * (i % 128)];
        } else {
          rand = mem[256 * previous];
        }
        let area;
        if (pass === 0) {
          area = slice === 0 ? i - 1 : slice * segment + i - 1;
        } else {
          area = blocks - segment + i - 1;
        }
        const r = BigInt(rand >>> 0);
        const rel = (r * r) >> 32n;
        const relative = BigInt(area) - 1n - ((BigInt(area) * rel) >> 32n);
        const startPos = pass === 0 || slice === 3 ? 0 : (slice + 1) * segment;
        const ref = (startPos + Number(relative)) % blocks;
        if (pass === 0) {
          compress(mem, 256 * current, mem, 256 * previous, mem, 256 * ref);
        } else {
          const old = mem.slice(256 * current, 256 * current + 256);
          compress(mem, 256 * current, mem, 256 * previous, mem, 256 * ref);
          for (let k = 0; k < 256; k++) mem[256 * current + k] ^= old[k];
        }
      }
    }
  }
  const last = new Uint8Array(1024);
  for (let i = 0; i < 256; i++) {
    const w = mem[256 * (blocks - 1) + i];
    last[4 * i] = w & 255; last[4 * i + 1] = (w >>> 8) & 255;
    last[4 * i + 2] = (w >>> 16) & 255; last[4 * i + 3] = w >>> 24;
  }
  return hashLong(outlen, last);
}

/* ---- the worker --------------------------------------------------------------------------- */

const SALT = new TextEncoder().encode("sereno-tips-pow!");

function leadingZeroBits(bytes) {
  let bits = 0;
  for (const b of bytes) {
    if (b === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(b) - 24;
  }
  return bits;
}

function solve(nonce, bits) {
  const encoder = new TextEncoder();
  for (let answer = 0; ; answer++) {
    const digest = argon2id(encoder.encode(nonce + ":" + answer), SALT, 1, 1024, 32);
    if (leadingZeroBits(digest) >= bits) return answer;
  }
}

if (typeof WorkerGlobalScope !== "undefined" && self instanceof WorkerGlobalScope) {
  self.onmessage = (event) => {
    const started = Date.now();
    const answer = solve(event.data.nonce, event.data.bits);
    self.postMessage({ answer: String(answer), ms: Date.now() - started });
  };
}
