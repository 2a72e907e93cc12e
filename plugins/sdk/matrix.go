package sdk

import "fmt"

// Matrix is a row-major float32 matrix: Rows embeddings of Cols values each.
type Matrix struct {
	Rows, Cols int
	Data       []float32
}

// Row returns row i as a slice sharing the matrix's storage.
func (m Matrix) Row(i int) []float32 { return m.Data[i*m.Cols : (i+1)*m.Cols] }

// Check reports whether the matrix's data length matches its shape.
func (m Matrix) Check() error {
	if m.Rows < 0 || m.Cols < 0 || len(m.Data) != m.Rows*m.Cols {
		return fmt.Errorf("matrix shape [%d,%d] does not match %d values", m.Rows, m.Cols, len(m.Data))
	}
	return nil
}
