//! `fine_tune` on the device's terms: gradients in a `static`-style constant, the stack only.
//! Run alone (`cargo test -p nn-example-no-std`, as CI does) `nn` has no `alloc` and a batch
//! larger than `Sensor::TRAINING_CHUNK` is refused; in `cargo test --workspace` other crates
//! turn `alloc` on, and the same batch trains as one chunk on the heap.

use nn::Network;
use nn_example_no_std::{Sensor, SensorGradients, fine_tune};

/// Readings whose class is the index of the largest of their first three values.
fn batch(n: usize, seed: u32) -> (Vec<[f32; 5]>, Vec<[f32; 3]>) {
    let mut state = seed;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        f64::from(state) / f64::from(u32::MAX) * 4.0 - 2.0
    };
    #[allow(clippy::cast_possible_truncation)]
    let readings: Vec<[f32; 5]> = (0..n)
        .map(|_| std::array::from_fn(|_| next() as f32))
        .collect();
    let classes = readings
        .iter()
        .map(|r| {
            let best = (0..3).fold(0, |b, k| if r[k] > r[b] { k } else { b });
            std::array::from_fn(|k| if k == best { 1.0 } else { 0.0 })
        })
        .collect();
    (readings, classes)
}

/// The flattened trained values of `net`, to compare before and after.
fn values(net: &Sensor) -> Vec<f32> {
    let mut all = Vec::new();
    net.for_each_tensor(|_, _, v| all.extend_from_slice(v));
    all
}

#[test]
#[allow(clippy::float_cmp)] // an empty batch's loss is exactly 0
fn fine_tuning_lowers_the_loss_without_an_allocator() {
    let mut net = Sensor::BAKED;
    let mut gradients = SensorGradients::ZERO;
    let (readings, classes) = batch(Sensor::TRAINING_CHUNK.min(24), 7);
    let first = fine_tune(&mut net, &mut gradients, &readings, &classes, 0.2).unwrap();
    let mut last = first;
    for _ in 0..50 {
        last = fine_tune(&mut net, &mut gradients, &readings, &classes, 0.2).unwrap();
    }
    assert!(first.is_finite() && last.is_finite());
    assert!(last < 0.8 * first, "loss {first} -> {last}");
    assert_ne!(values(&net), values(&Sensor::BAKED));
    // Each step folded its batch into batchnorm's running statistics.
    let baked = Sensor::BAKED;
    assert_eq!(
        net.layer1.num_batches_tracked(),
        baked.layer1.num_batches_tracked() + 51.0
    );
    assert_ne!(net.layer1.running_mean(), baked.layer1.running_mean());
    // An empty batch: no loss, no change.
    let tuned = values(&net);
    assert_eq!(
        fine_tune(&mut net, &mut gradients, &[], &[], 0.2).unwrap(),
        0.0
    );
    assert_eq!(values(&net), tuned);
}

#[test]
fn a_batch_larger_than_the_chunk_is_refused_without_an_allocator() {
    let mut net = Sensor::BAKED;
    let mut gradients = SensorGradients::ZERO;
    let n = Sensor::TRAINING_CHUNK + 3;
    let (readings, classes) = batch(n, 11);
    let result = fine_tune(&mut net, &mut gradients, &readings, &classes, 0.2);
    // Which branch the build has is `nn-runtime`'s `alloc` feature, as the generated code sees it.
    nn::__private::__alloc_or!({
        let loss = result.expect("with `alloc` the batch runs as one chunk");
        assert!(loss.is_finite());
        assert_ne!(values(&net), values(&Sensor::BAKED));
    } else {
        match result {
            Err(nn::Error::BatchTooLarge { layer, batch, chunk }) => {
                assert_eq!((layer, batch, chunk), ("layer1", n, Sensor::TRAINING_CHUNK));
            }
            other => panic!("expected BatchTooLarge, got {other:?}"),
        }
        assert_eq!(values(&net), values(&Sensor::BAKED), "a refused batch changes nothing");
    });
}
