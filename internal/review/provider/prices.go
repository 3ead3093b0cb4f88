package provider

import (
	"errors"
	"fmt"
	"math"

	"github.com/tricyclehq/tricycle/internal/review"
)

// Prices are what a model charges, in US dollars per million tokens.
type Prices struct {
	InputPerMTok  float64 `json:"input_per_mtok" yaml:"input_per_mtok"`
	OutputPerMTok float64 `json:"output_per_mtok" yaml:"output_per_mtok"`
}

// Cost returns the price in US dollars of the tokens in u.
func (p Prices) Cost(u review.Usage) float64 {
	return float64(u.InputTokens)/1e6*p.InputPerMTok + float64(u.OutputTokens)/1e6*p.OutputPerMTok
}

// Validate reports an error for negative or non-finite prices.
func (p Prices) Validate() error {
	for _, v := range []struct {
		name string
		v    float64
	}{{"input_per_mtok", p.InputPerMTok}, {"output_per_mtok", p.OutputPerMTok}} {
		if v.v < 0 || math.IsNaN(v.v) || math.IsInf(v.v, 0) {
			return fmt.Errorf("price %s = %v: %w", v.name, v.v, errInvalidPrice)
		}
	}
	return nil
}

// errInvalidPrice is wrapped by Validate.
var errInvalidPrice = errors.New("must be a finite number >= 0")

// EstimateTokens approximates the token count of text (four bytes a token),
// for endpoints that do not report usage.
func EstimateTokens(text string) int64 { return int64(len(text)+3) / 4 }
