package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
)

// countProto adds up the sample values of a gzipped goroutine profile.proto: the exact number
// of goroutines it stands for, and the number of samples (distinct stack and label sets).
// Only the two fields needed are decoded: Profile.sample (2) and Sample.value (2).
func countProto(gz []byte) (goroutines, samples int64, err error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return 0, 0, err
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return 0, 0, err
	}
	err = fields(raw, func(num int, wire int, v uint64, b []byte) error {
		if num != 2 || wire != 2 {
			return nil
		}
		samples++
		first := true
		return fields(b, func(num int, wire int, v uint64, b []byte) error {
			if num != 2 || !first {
				return nil
			}
			switch wire {
			case 0: // unpacked
				goroutines += int64(v)
				first = false
			case 2: // packed
				x, _, err := varint(b)
				if err != nil {
					return err
				}
				goroutines += int64(x)
				first = false
			}
			return nil
		})
	})
	return goroutines, samples, err
}

// fields calls f for each field of a protobuf message: varints in v, length-delimited in b.
func fields(msg []byte, f func(num, wire int, v uint64, b []byte) error) error {
	for len(msg) > 0 {
		key, n, err := varint(msg)
		if err != nil {
			return err
		}
		msg = msg[n:]
		num, wire := int(key>>3), int(key&7)
		var v uint64
		var b []byte
		switch wire {
		case 0:
			v, n, err = varint(msg)
			if err != nil {
				return err
			}
			msg = msg[n:]
		case 1:
			if len(msg) < 8 {
				return errors.New("truncated fixed64")
			}
			msg = msg[8:]
		case 2:
			l, n, err := varint(msg)
			if err != nil {
				return err
			}
			msg = msg[n:]
			if uint64(len(msg)) < l {
				return errors.New("truncated length-delimited field")
			}
			b, msg = msg[:l], msg[l:]
		case 5:
			if len(msg) < 4 {
				return errors.New("truncated fixed32")
			}
			msg = msg[4:]
		default:
			return fmt.Errorf("unsupported wire type %d", wire)
		}
		if err := f(num, wire, v, b); err != nil {
			return err
		}
	}
	return nil
}

func varint(b []byte) (uint64, int, error) {
	var x uint64
	for i := 0; i < len(b) && i < 10; i++ {
		x |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return x, i + 1, nil
		}
	}
	return 0, 0, errors.New("bad varint")
}
