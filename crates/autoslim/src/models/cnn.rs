//! [`SlimCnn`]: a plain stack of conv–BN–ReLU layers, global pooling and a linear classifier.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, PaddingConfig2d};
use burn::tensor::Tensor;
use burn::tensor::activation::relu;
use burn::tensor::backend::Backend;
use burn::tensor::module::adaptive_avg_pool2d;
use slimmable::{
    Activation, NormMode, SlimConv2d, SlimConv2dConfig, SlimLinear, SlimLinearConfig, SwitchableBatchNorm, SwitchableBatchNormConfig,
};

use super::blocks::ConvBn;
use crate::channels::{ChannelSpace, Channels, Subnet};
use crate::deploy::{Classifier, Deploy};
use crate::model::SlimmableModel;

/// Configuration of a [`SlimCnn`].
#[derive(Config, Debug)]
pub struct SlimCnnConfig {
    /// Output channels of each 3×3 conv, at full width.
    pub channels: Vec<usize>,
    /// Stride of each conv (same length as `channels`).
    pub strides: Vec<usize>,
    /// Image channels (never slimmed).
    #[config(default = 1)]
    pub in_channels: usize,
    /// Classes (never slimmed).
    #[config(default = 10)]
    pub num_classes: usize,
    /// Sets of BatchNorms (switchable BN): 1, or one per subnet retrained jointly; a
    /// [`Subnet`]'s `norm_set` picks one.
    #[config(default = 1)]
    pub norm_sets: usize,
}

/// `[conv3×3 → BN → ReLU] × n → global average pool → linear`, every conv its own channel
/// group. Layer names: `backbone.layers.{i}.conv`, `backbone.layers.{i}.bn`, `head.fc`.
#[derive(Module, Debug)]
pub struct SlimCnn<B: Backend> {
    /// The convolutions.
    pub convs: Vec<SlimConv2d<B>>,
    /// One (switchable) BatchNorm per conv.
    pub norms: Vec<SwitchableBatchNorm<B>>,
    /// The classifier.
    pub head: SlimLinear<B>,
    space: ChannelSpace,
    num_classes: usize,
}

impl SlimCnnConfig {
    /// Builds the model, declaring its channel groups.
    pub fn try_init<B: Backend>(&self, device: &B::Device) -> Result<SlimCnn<B>, String> {
        if self.channels.is_empty() || self.channels.len() != self.strides.len() {
            return Err(format!(
                "SlimCnn needs as many strides as channels (and at least one): channels {:?}, strides {:?}",
                self.channels, self.strides
            ));
        }
        if self.channels.contains(&0)
            || self.strides.contains(&0)
            || self.in_channels == 0
            || self.num_classes == 0
            || self.norm_sets == 0
        {
            return Err("SlimCnn channels, strides, in_channels, num_classes and norm_sets must be positive".into());
        }
        let mut convs = Vec::new();
        let mut norms = Vec::new();
        let mut space = ChannelSpace::builder();
        let mut input = Channels::Fixed(self.in_channels);
        let mut c_in = self.in_channels;
        for (i, (&c_out, &stride)) in self.channels.iter().zip(&self.strides).enumerate() {
            let conv = SlimConv2dConfig::new([c_in, c_out], [3, 3])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_bias(false)
                .init(device);
            let norm = SwitchableBatchNormConfig::new(c_out, self.norm_sets).init(device);
            let group = Channels::Group(space.group(format!("backbone.layers.{i}"), c_out));
            space.conv(&format!("backbone.layers.{i}.conv"), &conv, input, group);
            space.switchable_norm(&format!("backbone.layers.{i}.bn"), &norm, group);
            space.activation(&format!("backbone.layers.{i}.relu"), group);
            convs.push(conv);
            norms.push(norm);
            input = group;
            c_in = c_out;
        }
        space.global_pool("backbone.pool", input);
        let head = SlimLinearConfig::new(c_in, self.num_classes).init(device);
        space.linear("head.fc", &head, input, Channels::Fixed(self.num_classes));
        let space = space.build().map_err(|err| err.to_string())?;
        Ok(SlimCnn { convs, norms, head, space, num_classes: self.num_classes })
    }

    /// Builds the model.
    ///
    /// # Panics
    /// If the configuration is invalid ([`try_init`](Self::try_init) says why).
    pub fn init<B: Backend>(&self, device: &B::Device) -> SlimCnn<B> {
        self.try_init(device).unwrap_or_else(|err| panic!("{err}"))
    }
}

impl<B: Backend> SlimmableModel<B> for SlimCnn<B> {
    fn space(&self) -> &ChannelSpace {
        &self.space
    }

    fn forward_subnet(&self, images: Tensor<B, 4>, subnet: &Subnet, norm: NormMode) -> Tensor<B, 2> {
        let mut x = images;
        for (group, (conv, bn)) in self.convs.iter().zip(&self.norms).enumerate() {
            // BN and ReLU in one pass (`Activation`).
            x = bn.forward_activation(conv.forward(x, subnet.channels(group)), subnet.norm_set(), norm, Activation::Relu);
        }
        let x = adaptive_avg_pool2d(x, [1, 1]).flatten(1, 3);
        self.head.forward(x, self.num_classes)
    }
}

/// The deployed form of a [`SlimCnn`] subnet: plain burn layers with physically smaller
/// weights, named as in the channel files (`backbone.layers.{i}.conv`, `.bn`, `head.fc`), so
/// its safetensors keys are PyTorch-style.
#[derive(Module, Debug)]
pub struct PlainCnn<B: Backend> {
    /// The conv–BN–ReLU layers.
    pub backbone: PlainCnnBackbone<B>,
    /// The classifier.
    pub head: PlainCnnHead<B>,
}

/// The layers of a [`PlainCnn`].
#[derive(Module, Debug)]
pub struct PlainCnnBackbone<B: Backend> {
    /// One conv and its BN per layer.
    pub layers: Vec<ConvBn<B>>,
}


/// The classifier of a [`PlainCnn`].
#[derive(Module, Debug)]
pub struct PlainCnnHead<B: Backend> {
    /// The linear layer.
    pub fc: Linear<B>,
}

/// Configuration of a [`PlainCnn`]: a [`SlimCnnConfig`] at the subnet's channels, enough to
/// rebuild the model before loading its record.
pub type PlainCnnConfig = SlimCnnConfig;

impl SlimCnnConfig {
    /// Builds an untrained [`PlainCnn`] with exactly these channels (to load a deployed record
    /// into).
    pub fn init_plain<B: Backend>(&self, device: &B::Device) -> Result<PlainCnn<B>, String> {
        let slim = self.try_init::<B>(device)?;
        slim.deploy(&Subnet::max(slim.space())).map_err(|err| err.to_string())
    }
}

impl<B: Backend> Classifier<B> for PlainCnn<B> {
    fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        let mut x = images;
        for layer in &self.backbone.layers {
            x = relu(layer.bn.forward(layer.conv.forward(x)));
        }
        let x = adaptive_avg_pool2d(x, [1, 1]).flatten(1, 3);
        self.head.fc.forward(x)
    }
}

impl<B: Backend> Deploy<B> for SlimCnn<B> {
    type Plain = PlainCnn<B>;
    type PlainConfig = PlainCnnConfig;

    fn plain_config(&self, subnet: &Subnet) -> PlainCnnConfig {
        let channels = (0..self.convs.len()).map(|g| subnet.channels(g)).collect();
        let strides = self.convs.iter().map(|conv| conv.stride[0]).collect();
        let in_channels = self.convs[0].max_channels()[0];
        SlimCnnConfig::new(channels, strides).with_in_channels(in_channels).with_num_classes(self.num_classes)
    }

    fn deploy(&self, subnet: &Subnet) -> Result<PlainCnn<B>, slimmable::SlimError> {
        let mut layers = Vec::new();
        let mut c_in = self.convs[0].max_channels()[0];
        for (group, (conv, bn)) in self.convs.iter().zip(&self.norms).enumerate() {
            let c_out = subnet.channels(group);
            layers.push(ConvBn { conv: conv.to_plain(c_in, c_out)?, bn: bn.to_plain(subnet.norm_set(), c_out)? });
            c_in = c_out;
        }
        let fc = self.head.to_plain(c_in, self.num_classes)?;
        Ok(PlainCnn { backbone: PlainCnnBackbone { layers }, head: PlainCnnHead { fc } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::{Convention, count};
    use crate::deploy::{save, trainable_params};
    use burn::backend::NdArray;
    use burn::tensor::Distribution;

    type B = NdArray;

    fn trained_like() -> SlimCnn<B> {
        let device = Default::default();
        let model = SlimCnnConfig::new(vec![8, 16], vec![1, 2]).with_num_classes(5).init::<B>(&device);
        // Give every BN running statistics that are not the initial 0/1.
        let subnet = Subnet::max(model.space());
        for step in 0..3 {
            let images = Tensor::<B, 4>::random([6, 1, 10, 10], Distribution::Normal(0.5, 2.0), &device);
            let _ = model.forward_subnet(images, &subnet, NormMode::Calibrate { step });
        }
        model
    }

    fn max_abs_diff(a: Tensor<B, 2>, b: Tensor<B, 2>) -> f32 {
        a.sub(b).abs().max().into_scalar()
    }

    #[test]
    fn a_deployed_subnet_computes_what_the_slimmable_model_computes_at_that_subnet() {
        let model = trained_like();
        let images = Tensor::<B, 4>::random([4, 1, 10, 10], Distribution::Normal(0.0, 1.0), &Default::default());
        for channels in [vec![3, 10], vec![8, 16], vec![1, 1]] {
            let subnet = Subnet::new(model.space(), channels.clone()).unwrap();
            let plain = model.deploy(&subnet).unwrap();
            let diff = max_abs_diff(model.forward_subnet(images.clone(), &subnet, NormMode::Auto), plain.forward(images.clone()));
            assert!(diff < 1e-4, "channels {channels:?}: max abs diff {diff}");
            // Physically smaller, and exactly the counted parameters.
            assert_eq!(plain.backbone.layers[1].conv.weight.dims(), [channels[1], channels[0], 3, 3]);
            let counted = count(model.space(), &subnet, [10, 10], Convention::Paper).params;
            assert_eq!(trainable_params(&plain) as u64, counted, "channels {channels:?}");
        }
    }

    #[test]
    fn a_subnet_deploys_with_the_batchnorm_set_it_was_trained_with() {
        let device = Default::default();
        let model = SlimCnnConfig::new(vec![8, 16], vec![1, 2]).with_norm_sets(2).with_num_classes(5).init::<B>(&device);
        let images = |mean| Tensor::<B, 4>::random([6, 1, 10, 10], Distribution::Normal(mean, 1.0), &device);
        let first = Subnet::new(model.space(), vec![6, 12]).unwrap();
        let second = first.clone().with_norm_set(1);
        // Different statistics in the two sets.
        let _ = model.forward_subnet(images(0.0), &first, NormMode::Calibrate { step: 0 });
        let _ = model.forward_subnet(images(3.0), &second, NormMode::Calibrate { step: 0 });
        let x = images(1.0);
        for subnet in [&first, &second] {
            let plain = model.deploy(subnet).unwrap();
            let diff = max_abs_diff(model.forward_subnet(x.clone(), subnet, NormMode::Auto), plain.forward(x.clone()));
            assert!(diff < 1e-4, "set {}: max abs diff {diff}", subnet.norm_set());
        }
        let (a, b) = (model.deploy(&first).unwrap(), model.deploy(&second).unwrap());
        assert!(max_abs_diff(a.forward(x.clone()), b.forward(x)) > 1e-2, "the two sets must differ");
        let out_of_range = first.with_norm_set(2);
        assert!(model.deploy(&out_of_range).is_err());
    }

    #[test]
    fn a_deployed_model_saves_with_pytorch_names_and_loads_back() {
        let device = Default::default();
        let model = trained_like();
        let subnet = Subnet::new(model.space(), vec![5, 7]).unwrap();
        let plain = model.deploy(&subnet).unwrap();
        let dir = std::env::temp_dir().join(format!("autoslim-deploy-{}", std::process::id()));
        let files = save(&plain, &model.plain_config(&subnet), &dir.join("subnet")).unwrap();

        // safetensors: a little-endian header length, then a JSON header of names and shapes.
        let bytes = std::fs::read(&files.safetensors).unwrap();
        let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
        let shape = |name: &str| header[name]["shape"].clone();
        assert_eq!(shape("backbone.layers.0.conv.weight"), serde_json::json!([5, 1, 3, 3]));
        assert_eq!(shape("backbone.layers.1.bn.weight"), serde_json::json!([7]));
        assert_eq!(shape("backbone.layers.1.bn.running_var"), serde_json::json!([7]));
        assert_eq!(shape("head.fc.weight"), serde_json::json!([5, 7]), "PyTorch's [out, in]");
        assert!(header.get("backbone.layers.1.bn.gamma").is_none());

        // The burn record loads back into a model rebuilt from the saved config.
        let config = SlimCnnConfig::load(&files.config).unwrap();
        let rebuilt = config
            .init_plain::<B>(&device)
            .unwrap()
            .load_file(files.record.with_extension(""), &burn::record::NamedMpkFileRecorder::<burn::record::FullPrecisionSettings>::new(), &device)
            .unwrap();
        let images = Tensor::<B, 4>::random([3, 1, 10, 10], Distribution::Normal(0.0, 1.0), &device);
        assert!(max_abs_diff(rebuilt.forward(images.clone()), plain.forward(images)) < 1e-6);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_checkpoint_of_another_model_is_an_error_naming_the_tensor() {
        let device = Default::default();
        let dir = std::env::temp_dir().join(format!("autoslim-ckpt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("model");
        let recorder = burn::record::NamedMpkFileRecorder::<burn::record::FullPrecisionSettings>::new();
        trained_like().save_file(&path, &recorder).unwrap();
        let path = path.with_extension("mpk");

        let same = SlimCnnConfig::new(vec![8, 16], vec![1, 2]).with_num_classes(5).init::<B>(&device);
        assert!(crate::checkpoint::load(same, &path, &device).is_ok());
        let other = SlimCnnConfig::new(vec![8, 12], vec![1, 2]).with_num_classes(5).init::<B>(&device);
        let err = crate::checkpoint::load(other, &path, &device).unwrap_err().to_string();
        assert!(err.contains("is from another model: `convs.1.weight` has shape [16, 8, 3, 3] in the file but [12, 8, 3, 3]"), "{err}");
        let deeper = SlimCnnConfig::new(vec![8, 16, 16], vec![1, 2, 1]).with_num_classes(5).init::<B>(&device);
        let err = crate::checkpoint::load(deeper, &path, &device).unwrap_err().to_string();
        assert!(err.contains("is not a record of this model") || err.contains("is from another model"), "{err}");
        let missing = crate::checkpoint::load(trained_like(), &dir.join("nope.mpk"), &device).unwrap_err().to_string();
        assert!(missing.ends_with("nope.mpk does not exist"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
