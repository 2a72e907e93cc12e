package reports

import (
	"encoding/binary"
	"io"
	"math/bits"
)

// rleZlib writes a zlib stream (RFC 1950) whose deflate data (RFC 1951) is one block with the fixed Huffman codes
// holding only literals and matches at distance 1: runs of a repeated byte, zlib's Z_RLE strategy, which suits
// filtered image rows (a plot's Up-filtered rows are mostly runs of zeros). It finds a run with 8-byte comparisons
// and needs no hash table: several times faster than compress/flate's fastest level on such data, for files about
// 1.5 times as large. The Adler-32 is summed run by run too (adler.run). Every Write may hold any bytes; Close ends
// the stream.
type rleZlib struct {
	w     io.Writer
	buf   []byte // whole output bytes not yet written
	acc   uint64 // output bits not yet in buf, the first in the lowest bit
	nacc  uint
	last  int // the previous byte written (-1 before the first): a run may continue it
	sum   adler
	err   error
	begun bool
}

// Fixed Huffman codes (RFC 1951, section 3.2.6), bit-reversed as they are written: literal/length symbols 0–143
// take 8 bits (00110000 on), 144–255 9 bits (110010000 on), 256–279 7 bits (0000000 on), 280–287 8 bits
// (11000000 on). A distance code is 5 bits; distance 1 is code 0 with no extra bits.
var (
	fixedLit [256]uint16
	// fixedMatch is, for each match length 3..258, its length code, extra bits and the distance-1 code as one
	// bit string (lowest bit first) of fixedMatchBits[len] bits.
	fixedMatch     [259]uint32
	fixedMatchBits [259]uint8
)

func init() {
	rev := func(code uint32, n uint) uint32 { return bits.Reverse32(code) >> (32 - n) }
	for v := range 256 {
		if v < 144 {
			fixedLit[v] = uint16(rev(0x30+uint32(v), 8))
		} else {
			fixedLit[v] = uint16(rev(0x190+uint32(v-144), 9))
		}
	}
	// Length codes 257..285: base lengths and extra bits (RFC 1951, section 3.2.5).
	base := [...]int{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	extra := [...]uint{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	for i := range base {
		sym := 257 + i
		var code uint32
		var n uint
		if sym < 280 {
			code, n = rev(uint32(sym-256), 7), 7
		} else {
			code, n = rev(uint32(0xc0+sym-280), 8), 8
		}
		hi := 259
		if i+1 < len(base) {
			hi = base[i+1]
		}
		for l := base[i]; l < hi && l <= 258; l++ {
			v := code | uint32(l-base[i])<<n // extra bits follow the code, lowest first; then distance code 0 (5 zero bits)
			fixedMatch[l], fixedMatchBits[l] = v, uint8(n+extra[i]+5)
		}
	}
}

func newRLEZlib(w io.Writer) *rleZlib {
	return &rleZlib{w: w, last: -1, sum: adler{a: 1}}
}

// adler is an Adler-32 checksum being summed (RFC 1950, section 8.2): a is 1 plus the sum of the bytes, b the sum
// of a after each byte, both modulo adlerMod (reduced lazily: each stays far below 2^64 between reductions).
type adler struct {
	a, b    uint64
	pending int // bytes added one at a time since the last reduction
}

const adlerMod = 65521

// add sums one byte.
func (s *adler) add(v byte) {
	s.a += uint64(v)
	s.b += s.a
	if s.pending++; s.pending == 1<<16 {
		s.reduce()
	}
}

// run sums n bytes of value v at once: a grows by n·v, and b by n times a as it was plus v·(1 + 2 + … + n).
func (s *adler) run(v byte, n int) {
	s.reduce()
	m := uint64(n)
	s.b += m*s.a + uint64(v)*(m*(m+1)/2%adlerMod)
	s.a += m * uint64(v)
	s.reduce()
}

func (s *adler) reduce() {
	s.a %= adlerMod
	s.b %= adlerMod
	s.pending = 0
}

// sum32 returns the checksum: b in the high half, a in the low.
func (s *adler) sum32() uint32 {
	s.reduce()
	return uint32(s.b<<16 | s.a)
}

// put appends the n low bits of v to the output.
func (z *rleZlib) put(v uint64, n uint) {
	z.acc |= v << z.nacc
	z.nacc += n
	if z.nacc >= 32 {
		z.buf = binary.LittleEndian.AppendUint32(z.buf, uint32(z.acc))
		z.acc >>= 32
		z.nacc -= 32
	}
}

// flush writes the whole bytes gathered so far.
func (z *rleZlib) flush() error {
	if z.err == nil && len(z.buf) > 0 {
		_, z.err = z.w.Write(z.buf)
	}
	z.buf = z.buf[:0]
	return z.err
}

// Write implements io.Writer.
func (z *rleZlib) Write(p []byte) (int, error) {
	if z.err != nil {
		return 0, z.err
	}
	if !z.begun {
		z.begun = true
		// zlib header: deflate with a 32 KiB window, no dictionary, "fastest" level; (0x78<<8 | 0x01) % 31 == 0.
		z.buf = append(z.buf, 0x78, 0x01)
		z.put(0b011, 3) // BFINAL 1, BTYPE 01: one block, fixed Huffman codes
	}
	i := 0
	for i < len(p) {
		if len(z.buf) >= 64<<10 {
			if err := z.flush(); err != nil {
				return i, err
			}
		}
		if z.last >= 0 && p[i] == byte(z.last) {
			// A run of the previous byte: as many as follow, at most 258 per match, matches of at least 3.
			n := runLength(p[i:], byte(z.last))
			z.sum.run(byte(z.last), n)
			for n >= 3 {
				l := min(n, 258)
				if n-l > 0 && n-l < 3 { // leave a tail that still makes a match
					l = n - 3
				}
				z.put(uint64(fixedMatch[l]), uint(fixedMatchBits[l]))
				i, n = i+l, n-l
			}
			for ; n > 0; n-- {
				z.put(uint64(fixedLit[p[i]]), 8+uint(p[i]/144))
				i++
			}
			continue
		}
		v := p[i]
		z.sum.add(v)
		z.put(uint64(fixedLit[v]), 8+uint(v/144))
		z.last = int(v)
		i++
	}
	return len(p), nil
}

// runLength returns how many of p's first bytes are c.
func runLength(p []byte, c byte) int {
	word := uint64(c) * 0x0101010101010101
	n := 0
	for n+8 <= len(p) {
		if x := binary.LittleEndian.Uint64(p[n:]) ^ word; x != 0 {
			return n + bits.TrailingZeros64(x)/8
		}
		n += 8
	}
	for n < len(p) && p[n] == c {
		n++
	}
	return n
}

// Close ends the block (end-of-block code 256: 7 zero bits), pads to a byte, and writes the Adler-32 of the data.
func (z *rleZlib) Close() error {
	if z.err != nil {
		return z.err
	}
	if !z.begun {
		if _, err := z.Write(nil); err != nil {
			return err
		}
	}
	z.put(0, 7)
	for z.nacc > 0 {
		z.buf = append(z.buf, byte(z.acc))
		z.acc >>= 8
		z.nacc -= min(z.nacc, 8)
	}
	z.buf = binary.BigEndian.AppendUint32(z.buf, z.sum.sum32())
	return z.flush()
}
