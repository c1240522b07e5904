package targets

import "fmt"

// maxProducts is the largest seeded catalog: ids have three digits.
const maxProducts = 999

// Product is one item of the seeded catalog.
type Product struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Category   string `json:"category"`
	PriceCents int    `json:"price_cents"`
	Stock      int    `json:"stock"`
}

var categories = [...]string{"books", "games", "garden", "kitchen", "tools"}

// SeedProducts returns the fixed product set store starts with: n products
// with ids p001..pNNN, where product i (from 1) is named "Product NNN", is in
// category books, games, garden, kitchen, tools for i mod 5 = 1, 2, 3, 4, 0,
// costs 100*(i mod 50 + 1) - 1 cents and has 100 in stock.
func SeedProducts(n int) []Product {
	out := make([]Product, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, Product{
			ID:         ProductID(i),
			Name:       fmt.Sprintf("Product %03d", i),
			Category:   categories[(i+4)%5],
			PriceCents: 100*(i%50+1) - 1,
			Stock:      100,
		})
	}
	return out
}

// ProductID is the id of the i-th seeded product (from 1): p001.
func ProductID(i int) string { return fmt.Sprintf("p%03d", i) }

// Store key prefixes.
const (
	productKeyPrefix = "product:"
	orderKeyPrefix   = "order:"
)
