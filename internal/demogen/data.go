package demogen

// rgb is an 8-bit colour.
type rgb [3]uint8

// imageSpec is one PNG the generator draws: a solid colour, or, when split is set, the left half one colour and
// the right half another. Every image is ImageSize×ImageSize unless w and h say otherwise; those others are solid,
// so open_clip's resize of the shortest side and centre crop keep every pixel's value.
type imageSpec struct {
	name        string // file name
	left, right rgb    // right is used only when split is set
	split       bool
	w, h        int // zero: ImageSize
}

// solid returns a solid ImageSize×ImageSize image.
func solid(name string, r, g, b uint8) imageSpec { return imageSpec{name: name, left: rgb{r, g, b}} }

// meanColour is the image's mean colour, what the image tower's ReduceMean sees (channel values 0..255).
func (s imageSpec) meanColour() [3]float64 {
	var m [3]float64
	for c := range 3 {
		m[c] = float64(s.left[c])
		if s.split {
			m[c] = (float64(s.left[c]) + float64(s.right[c])) / 2
		}
	}
	return m
}

// images are the files under data/images, shared by the retrieval and classification tasks. A channel of 128
// reads as 128/255 ≈ 0.502 after preprocessing.
func images() []imageSpec {
	return []imageSpec{
		solid("red.png", 255, 0, 0),
		solid("green.png", 0, 255, 0),
		solid("blue.png", 0, 0, 255),
		solid("yellow.png", 255, 255, 0),
		solid("yellow_copy.png", 255, 255, 0), // yellow.png again, under another name: classification's wrong label
		solid("cyan.png", 0, 255, 255),
		solid("magenta.png", 255, 0, 255),
		solid("white.png", 255, 255, 255),
		solid("grey.png", 128, 128, 128),
		solid("orange.png", 255, 128, 0),
		solid("dark_red.png", 128, 0, 0),
		solid("dark_blue.png", 0, 0, 128),
		{name: "red_green.png", left: rgb{255, 0, 0}, right: rgb{0, 255, 0}, split: true},
		solid("dark_green.png", 0, 128, 0),
		solid("azure.png", 0, 128, 255),
		{name: "red_wide.png", left: rgb{255, 0, 0}, w: 64, h: 48},
		{name: "magenta_tall.png", left: rgb{255, 0, 255}, w: 48, h: 64},
	}
}

// vqaImages are the files under data/vqa/images.
func vqaImages() []imageSpec {
	return []imageSpec{
		solid("red.png", 255, 0, 0),
		solid("green.png", 0, 255, 0),
		solid("blue.png", 0, 0, 255),
		solid("yellow.png", 255, 255, 0),
		solid("orange.png", 255, 128, 0),
		solid("white.png", 255, 255, 255),
	}
}

// Cosines below are between the image embedding (r, g, b, ¼, 0…) and the text embedding (the sum of its word
// vectors, see vocabulary); "≈" values are rounded, and every comparison that decides an outcome differs by at least
// 0.009 (TestAnalyticMargins checks this), far above float32 noise (~1e-6), so the outcomes are exact.

// retrievalItem is one line of retrieval.jsonl with the ranks the model gives it (see RetrievalExpected).
type retrievalItem struct {
	image    string
	captions []string
	// textToImage[j] is the 1-based rank of this image among all images for caption j.
	textToImage []int
	// imageToText are the 1-based ranks of this image's captions among all captions, ascending.
	imageToText []int
}

// retrievalItems are the lines of retrieval.jsonl: 12 images, 25 captions.
func retrievalItems() []retrievalItem {
	return []retrievalItem{
		// A pure colour's own words point exactly at its colour part: cos = 1/|(1,0,0,¼)| = 4/√17 ≈ 0.970 for a
		// primary, 2/√2.0625 ≈ 0.985 for a secondary, 3/√3.0625 ≈ 0.990 for white; every other image and caption
		// is at least 0.015 below.
		{image: "red.png", captions: []string{"a red image.", "red"},
			textToImage: []int{1, 1}, imageToText: []int{1, 2}},
		{image: "green.png", captions: []string{"a green image.", "green, nothing else"},
			textToImage: []int{1, 1}, imageToText: []int{1, 2}},
		{image: "blue.png", captions: []string{"a blue image.", "the colour blue"},
			textToImage: []int{1, 1}, imageToText: []int{1, 2}},
		{image: "yellow.png", captions: []string{"a yellow image.", "yellow"},
			textToImage: []int{1, 1}, imageToText: []int{1, 2}},
		{image: "cyan.png", captions: []string{"a cyan image.", "cyan colour"},
			textToImage: []int{1, 1}, imageToText: []int{1, 2}},
		{image: "magenta.png", captions: []string{"a magenta image.", "magenta"},
			textToImage: []int{1, 1}, imageToText: []int{1, 2}},
		// "white" (1,1,1,0) prefers the white image (≈0.990) to the grey one (≈0.961, its tone share is larger).
		{image: "white.png", captions: []string{"a white image.", "white"},
			textToImage: []int{1, 1}, imageToText: []int{1, 2}},
		// "grey" (1,1,1,1) prefers the grey image (≈0.970) to the white one (≈0.929). Hard: "bright blue"
		// (0,0,1,-1) scores (b-¼)/|i|: blue, cyan, magenta, dark blue and white are above grey (≈0.197), so grey
		// ranks 6th; for the grey image "bright blue" is the last of all 25 captions.
		{image: "grey.png", captions: []string{"a grey image.", "grey", "bright blue"},
			textToImage: []int{1, 1, 6}, imageToText: []int{1, 2, 25}},
		// "orange" (1,½,0,0) matches the orange image exactly (≈0.976). Hard: "red, mostly" (1,0,0,0,¾) ranks
		// images as "red" does: red (≈0.776) and dark red (≈0.716) beat orange (≈0.698), so orange ranks 3rd.
		{image: "orange.png", captions: []string{"an orange image.", "red, mostly"},
			textToImage: []int{1, 3}, imageToText: []int{1, 14}},
		// "dark" adds tone (0,0,0,1): "dark red" (1,0,0,1) prefers dark red (≈0.948) to red (≈0.857).
		{image: "dark_red.png", captions: []string{"a dark red image.", "dark red"},
			textToImage: []int{1, 1}, imageToText: []int{1, 2}},
		// Hard: "bright yellow" (1,1,0,-1) is negative only on the two images without red and green; the dark blue
		// image (≈-0.257) is below the blue one (≈-0.140), so it is last of 12, outside even the top 10.
		{image: "dark_blue.png", captions: []string{"a dark blue image.", "bright yellow"},
			textToImage: []int{1, 12}, imageToText: []int{1, 25}},
		// Hard: the half-red, half-green image averages to (½,½,0,¼). Both captions embed as (1,1,0,0,0,¼), which
		// ranks the yellow image first (≈0.970) and this one second (≈0.928); for this image the two yellow
		// captions (≈0.943) beat its own (≈0.928), which beat "an orange image." (≈0.894): ranks 3 and 4.
		{image: "red_green.png", captions: []string{"red and green halves", "half red, half green"},
			textToImage: []int{2, 2}, imageToText: []int{3, 4}},
	}
}

// classItem is one line of classification.jsonl with the class the model predicts and the label's rank among the
// classes (see ClassificationExpected).
type classItem struct {
	image, label string
	predicted    string
	labelRank    int
}

// classes are the zero-shot classes, in the order the demo config must list them.
func classes() []string { return []string{"red", "green", "blue", "yellow", "cyan", "magenta"} }

// templates are the zero-shot prompt templates. Their other words embed as zero, so every template of a class
// embeds as that class's colour word and the class embedding is the colour word's direction.
func templates() []string { return []string{"a {} image.", "a photo that is {}."} }

// classItems are the lines of classification.jsonl: 13 images. A pure or dark colour's own class wins by at least
// 0.26 in cosine (primaries ≈0.970 against ≈0.686 for the secondaries containing them).
func classItems() []classItem {
	return []classItem{
		{image: "red.png", label: "red", predicted: "red", labelRank: 1},
		{image: "green.png", label: "green", predicted: "green", labelRank: 1},
		{image: "blue.png", label: "blue", predicted: "blue", labelRank: 1},
		{image: "yellow.png", label: "yellow", predicted: "yellow", labelRank: 1},
		{image: "cyan.png", label: "cyan", predicted: "cyan", labelRank: 1},
		{image: "magenta.png", label: "magenta", predicted: "magenta", labelRank: 1},
		{image: "red_wide.png", label: "red", predicted: "red", labelRank: 1},       // 64×48: resize + crop keep solid red
		{image: "dark_green.png", label: "green", predicted: "green", labelRank: 1}, // (0,0.502,0): green ≈0.895
		// Hard: orange (1,0.502,0) sits between red and yellow; yellow ≈0.926 beats red ≈0.872.
		{image: "orange.png", label: "red", predicted: "yellow", labelRank: 2},
		// Hard: azure (0,0.502,1) likewise; cyan ≈0.926 beats blue ≈0.872.
		{image: "azure.png", label: "blue", predicted: "cyan", labelRank: 2},
		// Hard: a wrong label, on a copy of yellow.png (one file listed with two labels is refused). Yellow has no
		// blue: blue's cosine is 0, below all five others (≥0.49): rank 6.
		{image: "yellow_copy.png", label: "blue", predicted: "yellow", labelRank: 6},
		{image: "dark_blue.png", label: "blue", predicted: "blue", labelRank: 1},
		{image: "magenta_tall.png", label: "magenta", predicted: "magenta", labelRank: 1}, // 48×64
	}
}

// vqaOpenCandidates are the normalised answers of the train split's open questions ("Red" → "red"), sorted.
func vqaOpenCandidates() []string { return []string{"blue", "green", "red", "white", "yellow"} }

// vqaQuestion is one VQA-RAD row with the answer the model picks (test rows only; see VQAExpected).
type vqaQuestion struct {
	image, question, answer string
	closed, test            bool
	predicted               string
}

// vqaQuestions are the rows of VQA_RAD_Dataset_Public.json. Question words other than colour words embed as zero,
// so a prompt "{question} {answer}" embeds as q + a, q the question's colour word (if any), a the answer's vector.
//
// Closed questions: "yes" is (0,0,0,¼) and "no" is (0,0,0,4). With p = colour part of the image · q, m = |q|² and
// |i| the image norm, cos(i, q+yes) = (p + 1/16)/(|i|·√(m + 1/16)) and cos(i, q+no) = (p + 1)/(|i|·√(m + 16)):
// "yes" wins when the image has enough of the asked colour (p ≳ ¼ for m = 1), "no" when it has none (p = 0:
// 0.06 < 0.24 for m = 1).
//
// Open questions: q = 0, so the answer word alone decides; candidates are the train split's normalised answers.
// "yes" and "no" both point along the tone dimension (cos = ¼/|i| ≤ 0.25 for these images) and lose to the right
// colour word (≥0.97), so the outcome is the same whether or not an implementation adds the closed answers.
func vqaQuestions() []vqaQuestion {
	return []vqaQuestion{
		// Train split: only its answers matter. Open answers: red ("Red" normalises to it), green, blue, yellow,
		// white.
		{image: "red.png", question: "is the image red?", answer: "Yes", closed: true},
		{image: "blue.png", question: "is the image green?", answer: "No", closed: true},
		{image: "red.png", question: "what colour is the image?", answer: "Red"},
		{image: "green.png", question: "what colour is the image?", answer: "green"},
		{image: "blue.png", question: "what colour is the image?", answer: "blue"},
		{image: "yellow.png", question: "what colour is the image?", answer: "yellow"},
		{image: "white.png", question: "what colour is the image?", answer: "white"},
		{image: "red.png", question: "which colour fills the image?", answer: "red"},

		// Test split, closed: 6 of 8 right.
		// yes 1.000, no 0.471
		{image: "red.png", question: "is the image red?", answer: "Yes", closed: true, test: true, predicted: "yes"},
		// yes 0.059, no 0.235
		{image: "red.png", question: "is the image green?", answer: "No", closed: true, test: true, predicted: "no"},
		// yes 1.000, no 0.471
		{image: "blue.png", question: "is the image blue?", answer: "yes", closed: true, test: true, predicted: "yes"},
		// Hard: red is half of yellow (p=1, m=2): yes 0.718, no 0.457
		{image: "red.png", question: "is the image yellow?", answer: "No", closed: true, test: true, predicted: "yes"},
		// yes 0.899, no 0.423
		{image: "orange.png", question: "is there red in the image?", answer: "Yes", closed: true, test: true, predicted: "yes"},
		// Hard: orange holds green 0.502: yes 0.478, no 0.318
		{image: "orange.png", question: "is the image green?", answer: "No", closed: true, test: true, predicted: "yes"},
		// yes 1.000, no 0.524
		{image: "white.png", question: "is the image white?", answer: "Yes", closed: true, test: true, predicted: "yes"},
		// yes 0.042, no 0.169
		{image: "yellow.png", question: "is the image blue?", answer: "No", closed: true, test: true, predicted: "no"},

		// Test split, open: 5 of 6 right.
		// red 0.970, yellow 0.686
		{image: "red.png", question: "what colour is the image?", answer: "red", test: true, predicted: "red"},
		// green 0.970, yellow 0.686
		{image: "green.png", question: "what colour is this?", answer: "green", test: true, predicted: "green"},
		// yellow 0.985, white 0.804
		{image: "yellow.png", question: "what colour is the image?", answer: "yellow", test: true, predicted: "yellow"},
		// Hard: "orange" is no train answer, so no candidate can match; yellow 0.926 beats red 0.872.
		{image: "orange.png", question: "what colour is the image?", answer: "orange", test: true, predicted: "yellow"},
		// blue 0.970, white 0.560
		{image: "blue.png", question: "which colour fills the image?", answer: "blue", test: true, predicted: "blue"},
		// white 0.990, yellow 0.808
		{image: "white.png", question: "what colour is the image?", answer: "white", test: true, predicted: "white"},
	}
}
