package datasets

import (
	"bufio"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/suyashkumar/dicom/pkg/tag"
	"github.com/suyashkumar/dicom/pkg/uid"
)

// The DICOM parser allocates each element's value at the length the element declares (up to 4 GiB) before it reads
// a byte of it, so that a file of a few hundred bytes can make it ask for gigabytes, element after element, and
// the process die of it. checkDICOMLengths walks the file's elements the way the parser reads them (file meta
// information in explicit VR little endian, then the data set in the transfer syntax's encoding, sequences and
// items recursively) up to Pixel Data, and refuses any element whose declared length runs past the end of the
// file (of the inflated data set for the deflated transfer syntax), before the parser sees it. What the walk does
// not follow (a compressed transfer syntax, an undefined length where the parser wants a defined one, a file
// without the DICM marker) it leaves to the parser, which reports it.

// maxDICOMDepth bounds the nesting of sequences and items the walk follows; deeper files are refused.
const maxDICOMDepth = 256

// errWalkDone ends the walk without an error: the parser reads the rest, or refuses it.
var errWalkDone = errors.New("dicom walk done")

// dicomWalker reads element headers from r, counting the bytes read.
type dicomWalker struct {
	r        *bufio.Reader
	bo       binary.ByteOrder
	implicit bool
	pos      int64
}

// checkDICOMLengths checks the declared lengths of the DICOM file read from r (see above).
func checkDICOMLengths(r io.Reader) error {
	w := &dicomWalker{r: bufio.NewReader(r), bo: binary.LittleEndian}
	head, err := w.r.Peek(128 + len(dicomMarker))
	if err != nil || string(head[128:]) != dicomMarker {
		return nil // the parser refuses it (or reads it without file meta information, which ReadDICOM refuses)
	}
	if _, err := w.r.Discard(len(head)); err != nil {
		return nil
	}
	w.pos = int64(len(head))
	ts, err := w.meta()
	if err != nil {
		return done(err)
	}
	switch ts {
	case uid.ImplicitVRLittleEndian:
		w.implicit = true
	case uid.ExplicitVRLittleEndian:
	case uid.ExplicitVRBigEndian:
		w.bo = binary.BigEndian
	case uid.DeflatedExplicitVRLittleEndian:
		w.r = bufio.NewReader(flate.NewReader(w.r))
	default:
		return nil // compressed pixel data: ReadDICOM refuses it before the data set is read
	}
	for {
		t, err := w.element(0)
		if err != nil {
			return done(err)
		}
		if t == tag.PixelData {
			return nil // ReadDICOM reads no further
		}
	}
}

// done turns the end of the walk into no error.
func done(err error) error {
	if errors.Is(err, errWalkDone) {
		return nil
	}
	return err
}

// meta walks the file meta information as the parser reads it (explicit VR little endian: the group length
// element, then the elements it covers, or, without it, every element of group 0002) and returns the transfer
// syntax UID.
func (w *dicomWalker) meta() (string, error) {
	first, err := w.peekGroup()
	if err != nil || first != 0x0002 {
		return "", errWalkDone
	}
	t, vr, vl, err := w.header(false)
	if err != nil {
		return "", err
	}
	end := int64(-1)
	if t == tag.FileMetaInformationGroupLength && vr == "UL" && vl == 4 {
		var b [4]byte
		if _, err := io.ReadFull(w.r, b[:]); err != nil {
			return "", errWalkDone
		}
		w.pos += 4
		end = w.pos + int64(binary.LittleEndian.Uint32(b[:]))
	} else {
		return "", errWalkDone // the parser wants the group length first: it refuses the file
	}
	ts := ""
	for w.pos < end {
		t, vr, vl, err := w.header(false)
		if err != nil {
			return "", err
		}
		if t == tag.TransferSyntaxUID && vl < 1024 {
			b := make([]byte, vl)
			if _, err := io.ReadFull(w.r, b); err != nil {
				return "", errWalkDone
			}
			w.pos += int64(vl)
			ts = strings.TrimRight(string(b), "\x00 ")
			continue
		}
		if err := w.value(t, vr, vl, 0); err != nil {
			return "", err
		}
	}
	return ts, nil
}

// peekGroup returns the group of the next element without reading it.
func (w *dicomWalker) peekGroup() (uint16, error) {
	b, err := w.r.Peek(2)
	if err != nil {
		return 0, err
	}
	return w.bo.Uint16(b), nil
}

// header reads an element's tag, VR and length as the parser's readElement does: items always in implicit VR, the
// VR from the dictionary in implicit VR (OW for Pixel Data and Overlay Data, UN for unknown tags), the length in 4
// bytes for the VRs that have it in explicit VR and in 2 otherwise (0xFFFF meaning undefined).
func (w *dicomWalker) header(implicit bool) (tag.Tag, string, uint32, error) {
	var b [4]byte
	if _, err := io.ReadFull(w.r, b[:]); err != nil {
		return tag.Tag{}, "", 0, errWalkDone
	}
	w.pos += 4
	t := tag.Tag{Group: w.bo.Uint16(b[:2]), Element: w.bo.Uint16(b[2:])}
	implicit = implicit || t == tag.Item
	var vr string
	if implicit {
		vr = tag.UnknownVR
		if e, err := tag.Find(t); err == nil {
			vr = e.VRs[0]
			if e.Tag == tag.PixelData || e.Tag == tag.OverlayData {
				vr = "OW"
			}
		}
	} else {
		if _, err := io.ReadFull(w.r, b[:2]); err != nil {
			return t, "", 0, errWalkDone
		}
		w.pos += 2
		vr = string(b[:2])
	}
	switch {
	case implicit:
	case strings.Contains(" NA OB OD OF OL OW SQ UN UC UR UT ", " "+vr+" "):
		if _, err := io.ReadFull(w.r, b[:2]); err != nil {
			return t, vr, 0, errWalkDone
		}
		w.pos += 2
	default:
		if _, err := io.ReadFull(w.r, b[:2]); err != nil {
			return t, vr, 0, errWalkDone
		}
		w.pos += 2
		vl := uint32(w.bo.Uint16(b[:2]))
		if vl == 0xffff {
			vl = tag.VLUndefinedLength
		}
		return t, vr, vl, nil
	}
	if _, err := io.ReadFull(w.r, b[:]); err != nil {
		return t, vr, 0, errWalkDone
	}
	w.pos += 4
	return t, vr, w.bo.Uint32(b[:]), nil
}

// element walks one element of the data set at the given nesting depth and returns its tag.
func (w *dicomWalker) element(depth int) (tag.Tag, error) {
	t, vr, vl, err := w.header(w.implicit)
	if err != nil {
		return t, err
	}
	return t, w.value(t, vr, vl, depth)
}

// value walks an element's value as the parser's readValue reads it: sequences and items element by element,
// undefined-length bytes and encapsulated Pixel Data fragment by fragment, anything else skipped after checking
// that the file holds its declared length.
func (w *dicomWalker) value(t tag.Tag, vr string, vl uint32, depth int) error {
	kind := tag.GetVRKind(t, vr)
	switch {
	case depth > maxDICOMDepth && (kind == tag.VRSequence || kind == tag.VRItem):
		return fmt.Errorf("sequences are nested more than %d deep at %s; the file is corrupt", maxDICOMDepth, tagName(t))
	case kind == tag.VRSequence || kind == tag.VRUnknown && vl == tag.VLUndefinedLength:
		return w.nested(vl, depth, tag.SequenceDelimitationItem)
	case kind == tag.VRItem:
		return w.nested(vl, depth, tag.ItemDelimitationItem)
	case vl == tag.VLUndefinedLength && (kind == tag.VRBytes || kind == tag.VRPixelData):
		for { // fragments: items in implicit VR, up to the sequence delimiter
			ft, fvr, fvl, err := w.header(true)
			if err != nil {
				return err
			}
			if ft == tag.SequenceDelimitationItem {
				return nil
			}
			if fvl == tag.VLUndefinedLength {
				return errWalkDone
			}
			if err := w.skip(ft, fvr, fvl); err != nil {
				return err
			}
		}
	case vl == tag.VLUndefinedLength:
		return errWalkDone // the parser refuses an undefined length here
	}
	return w.skip(t, vr, vl)
}

// nested walks the elements of a sequence or item: up to the delimiter end for an undefined length, else over vl
// bytes.
func (w *dicomWalker) nested(vl uint32, depth int, end tag.Tag) error {
	if vl == tag.VLUndefinedLength {
		for {
			t, err := w.element(depth + 1)
			if err != nil || t == end {
				return err
			}
		}
	}
	stop := w.pos + int64(vl)
	for w.pos < stop {
		if _, err := w.element(depth + 1); err != nil {
			return err
		}
	}
	return nil
}

// skip reads past a value of vl bytes, refusing a length that runs past the end of the file.
func (w *dicomWalker) skip(t tag.Tag, vr string, vl uint32) error {
	n, _ := w.r.Discard(int(vl))
	w.pos += int64(n)
	switch {
	case n == int(vl):
		return nil
	case t == tag.PixelData:
		return fmt.Errorf("the file ends inside its Pixel Data: it is truncated (copied or downloaded only in part); copy or export it again")
	}
	return fmt.Errorf("the file ends inside %s, which declares %d bytes (VR %s) where %d are left: it is truncated or corrupt "+
		"(copied or downloaded only in part); copy or export it again", tagName(t), vl, vr, n)
}
