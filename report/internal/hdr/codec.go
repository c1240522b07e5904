package hdr

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// The HdrHistogram V2 cookies: the outer one of the compressed form and the
// inner one of the payload it inflates to.
const (
	compressedCookie = 0x1c849304 | 0x10
	payloadCookie    = 0x1c849303 | 0x10
	payloadHeader    = 40
)

// ErrOtherGeometry is returned by Codec.Decode for a histogram stored in
// another geometry than the codec's: the caller re-homes it through
// hdrhistogram's own decoder.
var ErrOtherGeometry = errors.New("histogram in another geometry")

// Codec reads and writes the V2 compressed encoding (base64) of histograms
// of one geometry straight from and to Sparse, reusing its inflater,
// deflater and buffers: reading a day of one-second intervals decodes a
// million histograms, which hdrhistogram's Decode would each inflate with a
// new zlib reader into a new 270 kB dense array. Encode writes the same bytes
// as hdrhistogram's Encode of the same counts.
type Codec struct {
	Geometry                 Geometry
	lowest, highest          int64
	digits                   int32
	raw, inflated, payload   []byte
	zr                       io.ReadCloser
	zw                       *zlib.Writer
	src                      bytes.Reader
	deflated, plain, encoded bytes.Buffer
}

// NewCodec returns a codec for the geometry (lowest, highest, digits).
func NewCodec(g Geometry, lowest, highest int64, digits int) *Codec {
	return &Codec{Geometry: g, lowest: lowest, highest: highest, digits: int32(digits)}
}

// Decode reads encoded into s (reset first). It returns ErrOtherGeometry,
// with s empty, for a histogram of another geometry.
func (c *Codec) Decode(encoded string, s *Sparse) error {
	s.Reset()
	n := base64.StdEncoding.DecodedLen(len(encoded))
	c.raw = growTo(c.raw, n)
	n, err := base64.StdEncoding.Decode(c.raw, []byte(encoded))
	if err != nil {
		return err
	}
	raw := c.raw[:n]
	if len(raw) < 8 || int32(binary.BigEndian.Uint32(raw))&^0xf0 != compressedCookie&^0xf0 {
		return errors.New("not a V2 compressed histogram")
	}
	size := int32(binary.BigEndian.Uint32(raw[4:]))
	if size < 0 || int(size) > len(raw)-8 {
		return errors.New("truncated histogram")
	}
	if err := c.inflate(raw[8 : 8+size]); err != nil {
		return err
	}
	in := c.inflated
	if len(in) < payloadHeader || int32(binary.BigEndian.Uint32(in)) != payloadCookie {
		return errors.New("not a V2 histogram payload")
	}
	length := int32(binary.BigEndian.Uint32(in[4:]))
	digits := int32(binary.BigEndian.Uint32(in[12:]))
	lowest, highest := int64(binary.BigEndian.Uint64(in[16:])), int64(binary.BigEndian.Uint64(in[24:]))
	ratio := math.Float64frombits(binary.BigEndian.Uint64(in[32:]))
	if digits != c.digits || lowest != c.lowest || highest != c.highest || (ratio != 1 && ratio != 0) {
		return ErrOtherGeometry
	}
	if length < 0 || int(length) != len(in)-payloadHeader {
		return fmt.Errorf("histogram payload length %d, want %d", len(in)-payloadHeader, length)
	}
	return fillSparse(in[payloadHeader:], s, int64(c.Geometry.CountsLen()))
}

func (c *Codec) inflate(compressed []byte) error {
	c.src.Reset(compressed)
	var err error
	if c.zr == nil {
		c.zr, err = zlib.NewReader(&c.src)
	} else {
		err = c.zr.(zlib.Resetter).Reset(&c.src, nil)
	}
	if err != nil {
		return err
	}
	buf := bytes.NewBuffer(c.inflated[:0])
	if _, err := buf.ReadFrom(c.zr); err != nil {
		return err
	}
	c.inflated = buf.Bytes()
	return nil
}

// fillSparse reads the ZigZag LEB128 counts of a V2 payload: a negative
// number is a run of that many empty buckets.
func fillSparse(payload []byte, s *Sparse, countsLen int64) error {
	var idx int64
	for len(payload) > 0 {
		u, n := binary.Uvarint(payload)
		if n <= 0 {
			return errors.New("corrupt histogram payload")
		}
		payload = payload[n:]
		v := int64(u>>1) ^ -int64(u&1)
		if v < 0 {
			if -v > countsLen-idx {
				return errors.New("corrupt histogram payload: zero run past the last bucket")
			}
			idx -= v
			continue
		}
		if idx >= countsLen {
			return errors.New("corrupt histogram payload: a count past the last bucket")
		}
		if v > 0 {
			if v > math.MaxInt64-s.Total {
				return errors.New("corrupt histogram payload: counts sum past MaxInt64")
			}
			s.Index = append(s.Index, int32(idx))
			s.Counts = append(s.Counts, v)
			s.Total += v
		}
		idx++
	}
	return nil
}

// Encode writes s as hdrhistogram's Encode(V2CompressedEncodingCookieBase)
// writes a histogram of the codec's geometry holding the same counts.
func (c *Codec) Encode(s *Sparse) (string, error) {
	c.payload = c.payload[:0]
	if len(s.Index) == 0 {
		c.payload = append(c.payload, 0) // HdrHistogram writes index 0's zero count
	}
	next := int32(0)
	for k, i := range s.Index {
		if gap := int64(i - next); gap == 1 {
			c.payload = binary.AppendUvarint(c.payload, 0)
		} else if gap > 1 {
			c.payload = binary.AppendUvarint(c.payload, zigzag(-gap))
		}
		c.payload = binary.AppendUvarint(c.payload, zigzag(s.Counts[k]))
		next = i + 1
	}
	c.plain.Reset()
	var head [payloadHeader]byte
	binary.BigEndian.PutUint32(head[0:], payloadCookie)
	binary.BigEndian.PutUint32(head[4:], uint32(len(c.payload)))
	binary.BigEndian.PutUint32(head[8:], 0) // normalizing index offset
	binary.BigEndian.PutUint32(head[12:], uint32(c.digits))
	binary.BigEndian.PutUint64(head[16:], uint64(c.lowest))
	binary.BigEndian.PutUint64(head[24:], uint64(c.highest))
	binary.BigEndian.PutUint64(head[32:], math.Float64bits(1))
	c.plain.Write(head[:])
	c.plain.Write(c.payload)
	c.deflated.Reset()
	if c.zw == nil {
		zw, err := zlib.NewWriterLevel(&c.deflated, zlib.BestCompression)
		if err != nil {
			return "", err
		}
		c.zw = zw
	} else {
		c.zw.Reset(&c.deflated)
	}
	if _, err := c.zw.Write(c.plain.Bytes()); err != nil {
		return "", err
	}
	if err := c.zw.Close(); err != nil {
		return "", err
	}
	c.encoded.Reset()
	var outer [8]byte
	binary.BigEndian.PutUint32(outer[0:], compressedCookie)
	binary.BigEndian.PutUint32(outer[4:], uint32(c.deflated.Len()))
	c.encoded.Write(outer[:])
	c.encoded.Write(c.deflated.Bytes())
	return base64.StdEncoding.EncodeToString(c.encoded.Bytes()), nil
}

func zigzag(v int64) uint64 { return uint64((v << 1) ^ (v >> 63)) }

func growTo(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}
