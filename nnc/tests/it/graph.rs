//! `nnc graph`: the SVG is well-formed XML with one group per layer, and draws; dot is stable.

use crate::{nnc, root, scratch};
use expect_test::expect;

/// `nnc graph` on a workspace model, as SVG text.
fn svg(model: &str) -> String {
    let run = nnc(&root(), &["graph", model]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stderr, "");
    run.stdout
}

/// Every element with `class="{class}"` below `node`.
fn with_class<'a>(
    node: roxmltree::Node<'a, 'a>,
    class: &'a str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'a>> {
    node.descendants()
        .filter(move |n| n.attribute("class") == Some(class))
}

#[test]
fn mnist_has_a_group_per_layer_and_collapses_wide_ones() {
    let text = svg("models/mnist.nn");
    let document = roxmltree::Document::parse(&text).expect("the SVG is well-formed XML");
    let svg = document.root_element();
    assert_eq!(svg.tag_name().name(), "svg");
    assert_eq!(
        svg.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );

    let networks: Vec<_> = with_class(svg, "network").collect();
    assert_eq!(networks.len(), 1);
    assert_eq!(networks[0].attribute("data-name"), Some("Mnist"));

    // The input and two layers.
    let layers: Vec<_> = with_class(networks[0], "layer").collect();
    let described: Vec<(&str, &str, &str)> = layers
        .iter()
        .map(|g| {
            (
                g.attribute("data-name").unwrap_or_default(),
                g.attribute("data-width").unwrap_or_default(),
                g.attribute("data-activation").unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        described,
        [
            ("input", "784", ""),
            ("hidden", "128", "relu"),
            ("output", "10", "softmax")
        ]
    );

    // 784 and 128 are collapsed to 7 neurons around an ellipsis; 10 is drawn in full.
    let neurons: Vec<usize> = layers
        .iter()
        .map(|g| with_class(*g, "neuron").count())
        .collect();
    assert_eq!(neurons, [7, 7, 10]);
    let ellipses: Vec<usize> = layers
        .iter()
        .map(|g| with_class(*g, "ellipsis").count())
        .collect();
    assert_eq!(ellipses, [1, 1, 0]);
    let hidden = with_class(layers[0], "ellipsis")
        .next()
        .and_then(|e| e.children().find(|c| c.has_tag_name("title")))
        .and_then(|t| t.text());
    assert_eq!(hidden, Some("777 more"));

    // Edges join drawn neurons only, and far fewer than all pairs of them.
    let edges = with_class(svg, "edges")
        .next()
        .expect("an edge group")
        .children()
        .filter(|n| n.has_tag_name("line"))
        .count();
    assert!(edges > 10 && edges < 7 * 7 + 7 * 10, "{edges} edges");

    // Each neuron of a layer plots its activation.
    let plots = layers[1]
        .descendants()
        .filter(|n| n.has_tag_name("path"))
        .count();
    assert_eq!(plots, 7);
}

#[test]
fn a_file_of_several_networks_draws_them_all_or_one() {
    let text = svg("models/tiny.nn");
    let document = roxmltree::Document::parse(&text).expect("well-formed XML");
    let networks: Vec<(Option<&str>, usize)> = with_class(document.root_element(), "network")
        .map(|n| (n.attribute("data-name"), with_class(n, "layer").count()))
        .collect();
    assert_eq!(
        networks,
        [(Some("Xor"), 3), (Some("Iris"), 4), (Some("Zoo"), 7)]
    );

    let run = nnc(&root(), &["graph", "models/tiny.nn", "--network", "Iris"]);
    let document = roxmltree::Document::parse(&run.stdout).expect("well-formed XML");
    assert_eq!(with_class(document.root_element(), "network").count(), 1);
    assert_eq!(with_class(document.root_element(), "layer").count(), 4);
}

#[test]
fn the_svg_renders() {
    let text = svg("models/mnist.nn");
    let tree = resvg::usvg::Tree::from_str(&text, &resvg::usvg::Options::default())
        .expect("resvg reads the SVG");
    let size = tree.size().to_int_size();
    assert_eq!((size.width(), size.height()), (460, 546));
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height()).expect("a pixmap");
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::default(),
        &mut pixmap.as_mut(),
    );

    // The background is white; circles, plots and edges cover a fair part of it.
    let pixels = pixmap.pixels();
    let inked = pixels
        .iter()
        .filter(|p| (p.red(), p.green(), p.blue()) != (255, 255, 255))
        .count();
    let share = inked as f64 / pixels.len() as f64;
    assert!((0.05..0.6).contains(&share), "{share} of the pixels inked");
    // The hidden layer's fill colour is there: the neurons were drawn, not only the edges.
    let blue = pixels
        .iter()
        .filter(|p| (p.red(), p.green(), p.blue()) == (0xcf, 0xe2, 0xf7))
        .count();
    assert!(blue > 7 * 200, "{blue} pixels of neuron fill");

    let png = pixmap.encode_png().expect("PNG encoding");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    std::fs::write(scratch().join("mnist.png"), png).expect("write the PNG");
}

#[test]
fn dot_for_graphviz() {
    let dir = scratch();
    let out = dir.join("mnist.dot");
    let run = nnc(
        &root(),
        &["graph", "models/mnist.nn", "-o", &out.to_string_lossy()],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let from_extension = std::fs::read_to_string(&out).expect("nnc wrote the file");
    let explicit = nnc(&root(), &["graph", "models/mnist.nn", "--format", "dot"]);
    assert_eq!(explicit.stdout, from_extension);
    // An extension of another format is refused, not written as SVG.
    let png = dir.join("mnist.png");
    let refused = nnc(
        &root(),
        &["graph", "models/mnist.nn", "-o", &png.to_string_lossy()],
    );
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused.stderr.contains(
            "`nnc graph` writes SVG or Graphviz, not `.png`: name the file `.svg` or `.dot`, or \
             choose with `--format`"
        ),
        "{refused:?}"
    );
    assert!(!png.exists());
    // `--format` and an extension of the other format disagree: refused, not written.
    for (format, name) in [
        ("svg", "other.dot"),
        ("dot", "other.svg"),
        ("svg", "other.png"),
    ] {
        let path = dir.join(name);
        let refused = nnc(
            &root(),
            &[
                "graph",
                "models/mnist.nn",
                "--format",
                format,
                "-o",
                &path.to_string_lossy(),
            ],
        );
        assert_eq!(refused.code, 1, "{refused:?}");
        assert!(!path.exists(), "{name}");
    }
    expect![[r##"
        digraph nn {
            rankdir=LR;
            node [shape=box, style="rounded,filled", fontname="DejaVu Sans, Helvetica, Arial, sans-serif", fontsize=11];
            edge [fontname="DejaVu Sans, Helvetica, Arial, sans-serif", fontsize=9];
            subgraph cluster_0 {
                label="Mnist: 784 → 128 relu → 10 softmax";
                n0_l0 [label="input\n784 inputs", fillcolor="#eceff3"];
                n0_l1 [label="hidden\n128 neurons\nrelu", fillcolor="#cfe2f7"];
                n0_l2 [label="output\n10 neurons\nsoftmax", fillcolor="#fadcc2"];
                n0_l0 -> n0_l1 [label="100,352 weights"];
                n0_l1 -> n0_l2 [label="1,280 weights"];
            }
        }
    "##]]
    .assert_eq(&from_extension);
}

#[test]
fn counts_of_one_are_singular() {
    let dir = crate::with_model("struct Unit = 1 -> 1 sigmoid;\n");
    let run = nnc(&dir, &["graph", "model.nn"]);
    assert_eq!(run.code, 0, "{run:?}");
    let document = roxmltree::Document::parse(&run.stdout).expect("well-formed XML");
    let titles: Vec<&str> = with_class(document.root_element(), "layer")
        .filter_map(|g| g.children().find(|c| c.has_tag_name("title")))
        .filter_map(|t| t.text())
        .collect();
    assert_eq!(titles, ["input: 1 input", "layer0: 1 neuron, sigmoid"]);
    let texts: Vec<&str> = document
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|t| t.text())
        .collect();
    for expected in ["2 parameters, 1 multiply-add, f32", "1 input", "1 neuron"] {
        assert!(texts.contains(&expected), "{expected} in {texts:?}");
    }
    for plural in ["1 inputs", "1 neurons", "1 multiply-adds", "1 weights"] {
        assert!(!run.stdout.contains(plural), "{plural}:\n{}", run.stdout);
    }

    let dot = nnc(&dir, &["graph", "model.nn", "--format", "dot"]);
    assert_eq!(dot.code, 0, "{dot:?}");
    assert!(
        dot.stdout.contains(r#"[label="input\n1 input""#),
        "{}",
        dot.stdout
    );
    assert!(
        dot.stdout.contains(r#"[label="layer0\n1 neuron\nsigmoid""#),
        "{}",
        dot.stdout
    );
    assert!(
        dot.stdout.contains(r#"n0_l0 -> n0_l1 [label="1 weight"];"#),
        "{}",
        dot.stdout
    );
}

#[test]
fn lenet_draws_feature_maps_as_stacks_with_their_windows() {
    let text = svg("models/lenet.nn");
    let document = roxmltree::Document::parse(&text).expect("the SVG is well-formed XML");
    let layers: Vec<_> = with_class(document.root_element(), "layer").collect();
    let described: Vec<(&str, &str, &str)> = layers
        .iter()
        .map(|g| {
            (
                g.attribute("data-name").unwrap_or_default(),
                g.attribute("data-kind").unwrap_or_default(),
                g.attribute("data-shape").unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        described,
        [
            ("input", "", "[1, 28, 28]"),
            ("layer0", "conv2d(6, 5, padding = 2)", "[6, 28, 28]"),
            ("layer1", "maxpool2d(2)", "[6, 14, 14]"),
            ("layer2", "conv2d(16, 5)", "[16, 10, 10]"),
            ("layer3", "maxpool2d(2)", "[16, 5, 5]"),
            ("layer4", "flatten", "[400]"),
            ("layer5", "dense", "[120]"),
            ("layer6", "dense", "[84]"),
            ("layer7", "dense", "[10]"),
        ]
    );

    // A plane per channel, at most eight; vectors stay neurons.
    let planes: Vec<usize> = layers
        .iter()
        .map(|g| with_class(*g, "map").count())
        .collect();
    assert_eq!(planes, [1, 6, 6, 8, 8, 0, 0, 0, 0]);
    let neurons: Vec<usize> = layers
        .iter()
        .map(|g| with_class(*g, "neuron").count())
        .collect();
    assert_eq!(neurons, [0, 0, 0, 0, 0, 7, 7, 7, 10]);

    // Planes are as large as their maps, at one scale: each pool halves its input's picture.
    let front_width = |layer: usize| -> f64 {
        with_class(layers[layer], "map")
            .last()
            .and_then(|r| r.attribute("width"))
            .and_then(|w| w.parse().ok())
            .expect("a plane with a width")
    };
    assert!((front_width(1) / front_width(2) - 2.0).abs() < 1e-6);
    assert!((front_width(3) / front_width(4) - 2.0).abs() < 1e-6);
    assert!(
        (front_width(0) - front_width(1)).abs() < 1e-6,
        "padding 2 keeps 28x28"
    );

    // Two convolutions and two pools: a window and the value it makes for each, joined.
    assert_eq!(with_class(document.root_element(), "window").count(), 8);
    assert_eq!(with_class(document.root_element(), "projection").count(), 4);
    // A 5x5 window on a 28x28 plane is 5/28 of its side.
    let first_window: f64 = with_class(document.root_element(), "window")
        .next()
        .and_then(|r| r.attribute("width"))
        .and_then(|w| w.parse().ok())
        .expect("a window with a width");
    assert!(
        (first_window / front_width(0) - 5.0 / 28.0).abs() < 0.01,
        "{first_window}"
    );

    let tree = resvg::usvg::Tree::from_str(&text, &resvg::usvg::Options::default())
        .expect("resvg reads the SVG");
    let size = tree.size().to_int_size();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height()).expect("a pixmap");
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::default(),
        &mut pixmap.as_mut(),
    );
    // The windows' fill is drawn over the planes, not hidden under them.
    let amber = pixmap
        .pixels()
        .iter()
        .filter(|p| (p.red(), p.green(), p.blue()) == (0xfc, 0xe8, 0xa6))
        .count();
    assert!(amber > 50, "{amber} pixels of window fill");
    let png = pixmap.encode_png().expect("PNG encoding");
    std::fs::write(scratch().join("lenet.png"), png).expect("write the PNG");
}

#[test]
fn lenet_as_dot_names_kinds_shapes_and_weights() {
    let run = nnc(&root(), &["graph", "models/lenet.nn", "--format", "dot"]);
    assert_eq!(run.code, 0, "{run:?}");
    expect![[r##"
        digraph nn {
            rankdir=LR;
            node [shape=box, style="rounded,filled", fontname="DejaVu Sans, Helvetica, Arial, sans-serif", fontsize=11];
            edge [fontname="DejaVu Sans, Helvetica, Arial, sans-serif", fontsize=9];
            subgraph cluster_0 {
                label="LeNet: [1, 28, 28] → [6, 28, 28] relu → [6, 14, 14] → [16, 10, 10] relu → [16, 5, 5] → 400 → 120 relu → 84 relu → 10 softmax";
                n0_l0 [label="input\n[1, 28, 28]\ninput", fillcolor="#eceff3"];
                n0_l1 [label="layer0\n[6, 28, 28]\nconv2d(6, 5, padding = 2)\nrelu", fillcolor="#cfe2f7"];
                n0_l2 [label="layer1\n[6, 14, 14]\nmaxpool2d(2)", fillcolor="#e4e4e4"];
                n0_l3 [label="layer2\n[16, 10, 10]\nconv2d(16, 5)\nrelu", fillcolor="#cfe2f7"];
                n0_l4 [label="layer3\n[16, 5, 5]\nmaxpool2d(2)", fillcolor="#e4e4e4"];
                n0_l5 [label="layer4\n400 values\nflatten", fillcolor="#e4e4e4"];
                n0_l6 [label="layer5\n120 neurons\nrelu", fillcolor="#cfe2f7"];
                n0_l7 [label="layer6\n84 neurons\nrelu", fillcolor="#cfe2f7"];
                n0_l8 [label="layer7\n10 neurons\nsoftmax", fillcolor="#fadcc2"];
                n0_l0 -> n0_l1 [label="150 weights"];
                n0_l1 -> n0_l2;
                n0_l2 -> n0_l3 [label="2,400 weights"];
                n0_l3 -> n0_l4;
                n0_l4 -> n0_l5;
                n0_l5 -> n0_l6 [label="48,000 weights"];
                n0_l6 -> n0_l7 [label="10,080 weights"];
                n0_l7 -> n0_l8 [label="840 weights"];
            }
        }
    "##]]
    .assert_eq(&run.stdout);
}

/// A convolution's edge carries its weights, with or without biases.
#[test]
fn a_convolution_without_biases_counts_its_weights() {
    let dir = crate::with_model(
        "struct A = [1, 8, 8] -> conv2d(6, 5, bias = false) -> flatten -> 2;\nstruct B = [1, 8, 8] -> conv2d(6, 5) -> flatten -> 2;\n",
    );
    let run = nnc(&dir, &["graph", "model.nn", "--format", "dot"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout.matches("[label=\"150 weights\"]").count(),
        2,
        "{}",
        run.stdout
    );
}
