//! What the two digits-training examples (`train_digits`, `train_digits_cnn`) share: where
//! their outputs go, the bundled data, its labels and the distortions that multiply it. A module
//! of `examples/` in a directory of its own, so that Cargo does not build it as an example.

use std::error::Error;
use std::path::{Path, PathBuf};

/// Cargo's target directory, where a build's outputs go, created if missing: three levels above
/// this executable, `<target>/<profile>/examples/<example>` (`<target>/<triple>` after
/// `--target <triple>`), whatever chose it (environment, configuration, command line). Outside
/// such a layout, `$CARGO_TARGET_DIR` when it is set, else `target/` in the checkout.
pub fn target_dir() -> Result<PathBuf, String> {
    let built_in = std::env::current_exe().ok().and_then(|exe| {
        let examples = exe.parent()?;
        let target = examples.parent()?.parent()?;
        (examples.file_name()? == "examples").then(|| target.to_path_buf())
    });
    let dir = built_in.unwrap_or_else(|| {
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("target"),
            PathBuf::from,
        )
    });
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}

/// `path` relative to the current directory when it is inside it.
pub fn shown(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|dir| Some(path.strip_prefix(dir).ok()?.to_path_buf()))
        .unwrap_or_else(|| path.to_path_buf())
}

/// Images and their labels.
pub type Data = (Vec<[f32; 64]>, Vec<usize>);

/// Reads `px0..px63,label` rows.
pub fn load(path: &Path) -> Result<Data, Box<dyn Error>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let path = path.display();
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for (number, line) in text.lines().enumerate().skip(1) {
        let values = line
            .split(',')
            .map(str::parse::<f32>)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{path}:{}: {e}", number + 1))?;
        let [pixels @ .., label] = values.as_slice() else {
            return Err(format!("{path}:{}: empty row", number + 1).into());
        };
        let image: [f32; 64] = pixels.try_into().map_err(|_| {
            format!(
                "{path}:{}: expected 64 pixels, found {}",
                number + 1,
                pixels.len()
            )
        })?;
        images.push(image);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // labels are 0..9
        labels.push(*label as usize);
    }
    Ok((images, labels))
}

pub fn one_hot(label: usize, smoothing: f32) -> [f32; 10] {
    std::array::from_fn(|i| {
        let hot = if i == label { 1.0 } else { 0.0 };
        hot * (1.0 - smoothing) + smoothing / 10.0
    })
}

/// SplitMix64: reproducible distortions without a dependency.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// Uniform in `[-bound, bound)`.
    pub fn uniform(&mut self, bound: f64) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) * bound
    }
}

/// The image rotated by up to 8 degrees, scaled by up to 8% and shifted by up to half a pixel,
/// resampled bilinearly.
pub fn distort(image: &[f32; 64], rng: &mut SplitMix64) -> [f32; 64] {
    let angle = rng.uniform(8.0).to_radians();
    let scale = 1.0 + rng.uniform(0.08);
    let (dx, dy) = (rng.uniform(0.5), rng.uniform(0.5));
    let (cos, sin) = (angle.cos() / scale, angle.sin() / scale);
    // Casts: `row` and `col` are whole numbers in 0..8 here.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let pixel = |row: f64, col: f64| {
        if (0.0..8.0).contains(&row) && (0.0..8.0).contains(&col) {
            f64::from(image[row as usize * 8 + col as usize])
        } else {
            0.0
        }
    };
    std::array::from_fn(|i| {
        // Where output pixel `i` comes from, relative to the image's centre.
        let (u, v) = ((i % 8) as f64 - 3.5 - dx, (i / 8) as f64 - 3.5 - dy);
        let (x, y) = (cos * u + sin * v + 3.5, -sin * u + cos * v + 3.5);
        let (x0, y0) = (x.floor(), y.floor());
        let (fx, fy) = (x - x0, y - y0);
        let value = pixel(y0, x0) * (1.0 - fx) * (1.0 - fy)
            + pixel(y0, x0 + 1.0) * fx * (1.0 - fy)
            + pixel(y0 + 1.0, x0) * (1.0 - fx) * fy
            + pixel(y0 + 1.0, x0 + 1.0) * fx * fy;
        #[allow(clippy::cast_possible_truncation)] // pixels are in [0, 1]
        let value = value as f32;
        value
    })
}
