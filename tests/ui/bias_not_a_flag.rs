// `bias` takes `true` or `false`, as PyTorch's `bias=False`; kinds without a bias take none.
nn::network! {
    pub struct Net = 4 -> dense(8, bias = 0) -> 2;
    pub struct Pooled = [1, 4, 4] -> maxpool2d(2, bias = false) -> flatten -> 2;
}

fn main() {}
