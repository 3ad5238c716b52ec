"""The source note's lessons as data: each a set of runs to train in
lockstep (``Comparison(*lesson.configs)``), the panel that shows the
point, and how many steps it takes to see it. Digits data, small
networks and fixed seeds, so every lesson runs in seconds.
"""
from __future__ import annotations

from dataclasses import dataclass

from .config import RunConfig, preset

PANELS = ("compare", "gradients", "gamma_beta", "distributions", "running_stats", "test_time",
          "training_curves", "feature_maps", "landscape")


@dataclass(frozen=True)
class Lesson:
    """One lesson: run A first, then up to four variations of it."""

    key: str
    title: str
    explanation: str
    configs: tuple[RunConfig, ...]
    labels: tuple[str, ...]
    panel: str
    steps: int

    def __post_init__(self):
        if not 1 <= len(self.configs) <= 5 or len(self.labels) != len(self.configs):
            raise ValueError(f"lesson {self.key!r}: 1 to 5 runs, one label each")
        if self.panel not in PANELS:
            raise ValueError(f"lesson {self.key!r}: unknown panel {self.panel!r}")
        for cfg in self.configs:
            cfg.validate()


FIG1 = preset("Ioffe & Szegedy 2015, Fig. 1")

# A small network for the lessons that are not a reproduction.
SMALL = RunConfig(dataset="digits", hidden=(64, 64), activation="tanh", batchnorm=True,
                  bn_placement="before", init="glorot", optimizer="sgd", lr=0.1, batch_size=64,
                  seed=1)

_FIG1 = Lesson(
    key="fig1", title="Ioffe & Szegedy 2015, Fig. 1: training with and without BN",
    explanation=(
        "Three hidden layers of 100 sigmoid units with small Gaussian initial weights, trained by "
        "SGD on mini-batches of 60, once with batch norm in every hidden layer (A) and once without "
        "(B), on the same batches. Watch the test accuracy: the BN run climbs much faster and stays "
        "ahead (dashed: A with population statistics, as the paper's inference network). Below, "
        "the 15th, 50th and 85th percentiles of one sigmoid's input in the last hidden layer, taken "
        "at every step over the same 360 held-out test examples (the probe), so that they move "
        "only as the weights do; over each training mini-batch they jitter more than ten times as "
        "much, with which 60 examples were drawn. With BN the probe is normalised as one batch, as "
        "in training, so the band is beta + gamma times the percentiles of x_hat, whose mean is 0 "
        "and variance 1 by construction: x_hat's percentiles stay near -1.1, 0 and 1.1 throughout, "
        "and the band only widens slowly as gamma is learned (by about a third in 3000 steps). "
        "Without BN nothing holds it in place: the small initial weights squeeze it to a sliver "
        "(about 0.1 wide at step 100), then, as the layers below learn, its median moves several "
        "times as far as with BN and its width grows more than twentyfold. The last layer keeps "
        "learning on a shifting input distribution: the internal covariate shift the paper set "
        "out to reduce."),
    configs=(FIG1, FIG1.replace(batchnorm=False)),
    labels=("A: with BN", "B: without BN"), panel="compare", steps=3000)

_BIAS = Lesson(
    key="bias", title="The bias is redundant under batch norm",
    explanation=(
        "Both runs put BN right after the linear map; A keeps the bias b, B drops it. Subtracting "
        "the batch mean removes any constant added before it, so b cannot change the output and its "
        "gradient is zero up to rounding. On the gradients panel (log scale) |db| sits about "
        "sixteen orders of magnitude below |dW|, and b stays at zero to within 1e-16. The losses "
        "of A and B agree at every step to rounding error: beta already plays the role of the "
        "bias. This is why BN layers are written without b."),
    configs=(SMALL.replace(keep_bias=True, dtype="float64"), SMALL.replace(keep_bias=False, dtype="float64")),
    labels=("A: bias kept", "B: no bias"), panel="gradients", steps=500)

_GAMMA_BETA = Lesson(
    key="gamma_beta", title="Gamma and beta are learned: BN before or after the activation",
    explanation=(
        "Batch norm fixes each unit's batch mean to 0 and variance to 1, then gamma and beta, "
        "learned like the weights, choose a new scale and shift. Both start at 1 and 0. On the "
        "gamma/beta panel watch them move in both runs, but only a little: in 1,000 steps every "
        "gamma stays between 0.9 and 1.3 and every beta within 0.2 of 0, so each unit's output "
        "keeps a batch mean near 0 and a spread near 1 (gamma = sqrt(var + eps) and beta = mean "
        "would undo the normalisation). A normalises before the activation, as in the paper, so "
        "beta is the batch mean of each unit's tanh input: it sets where on the tanh the unit "
        "works. B normalises after it, so gamma and beta set the spread and the mean of the "
        "layer's output. Both runs learn, their losses falling to under a twentieth of where "
        "they started, and B learns faster: its loss stays below A's throughout and ends at under "
        "half of it."),
    configs=(SMALL.replace(bn_placement="before"), SMALL.replace(bn_placement="after")),
    labels=("A: BN before tanh", "B: BN after tanh"), panel="gamma_beta", steps=1000)

# The optimizers lesson's network, and the rate each optimizer gets: the
# result of lr_sweep.sweep_learning_rates(OPTIMIZER_BASE, OPTIMIZER_RATES)
# (powers of ten, lowest mean loss over 200 steps), which the lesson tests rerun.
OPTIMIZER_BASE = SMALL.replace(activation="relu", init="he")
OPTIMIZER_RATES = {"sgd": 1.0, "momentum": 0.1, "rmsprop": 0.01, "adam": 0.01, "gd": 1.0}
_OPTIMIZERS = Lesson(
    key="optimizers", title="Gradient descent, SGD, momentum, RMSProp and Adam",
    explanation=(
        "The same batch-norm network and initial weights trained by five optimizers, each with the "
        "learning rate a small sweep chose for it (powers of ten from 0.001 to 10, the lowest mean "
        "loss over 200 steps): SGD 1, momentum 0.1, RMSProp 0.01, Adam 0.01, gradient descent 1. "
        "SGD is run A so that momentum, RMSProp and Adam train on exactly its mini-batches; "
        "full-batch gradient descent uses the whole training set at each step. On the comparison "
        "view, gradient descent's loss falls smoothly, since every step sees all the data, and in "
        "the fewest steps, but each of its steps costs over twenty mini-batches; the mini-batch "
        "curves are noisy. Tuned this way, none of the mini-batch methods is much faster than plain "
        "SGD on this network: each brings its loss (averaged over 25 steps) below 0.1 in about 60 "
        "to 70 steps. What differs is the rate each needs. Momentum with mu = 0.9 adds up about "
        "1/(1 - mu) = 10 past gradients, and its best rate is ten times smaller than SGD's. "
        "RMSProp and Adam divide each gradient by the root mean square of its recent values, so a "
        "weight moves by at most a few times the rate per step however small its gradient, and "
        "their best rate is a hundred times smaller. The updates follow PyTorch's formulas "
        "(torch.optim); Keras's Adam and RMSprop place eps differently."),
    configs=tuple(OPTIMIZER_BASE.replace(optimizer=opt, lr=lr) for opt, lr in OPTIMIZER_RATES.items()),
    labels=("A: SGD", "B: momentum", "C: RMSProp", "D: Adam", "E: gradient descent"),
    panel="compare", steps=500)

# The test-time panel: it shows the consequence of small batches (running,
# population and batch-of-k accuracy apart, and the EMA gap of noisy
# running statistics), which the running-statistics panel shows only as cause.
_SMALL_BATCHES = Lesson(
    key="small_batches", title="Small batches: noisy statistics and a train/test gap",
    explanation=(
        "Four runs that differ only in batch size: 2, 4, 8 and 64. With two examples a batch's "
        "mean and variance are wild estimates of the true ones (with two values d apart, "
        "x_hat = +-d / sqrt(d^2 + 4 eps): nearly every normalised value is within 0.01 of -1 or "
        "+1), so each unit is normalised differently at every step and the running averages "
        "chase that noise: the EMA gap on the test-time panel is largest for "
        "batch 2. The network then behaves differently in training and at test time: with batch 2 "
        "its accuracy on its own training batches stays far below its test accuracy with running "
        "statistics, and test batches of the same size (k = 2) reproduce the low training figure. "
        "With 64 examples the three agree within a few percent."),
    configs=(SMALL.replace(batch_size=2, lr=0.02), SMALL.replace(batch_size=4, lr=0.02),
             SMALL.replace(batch_size=8, lr=0.02), SMALL.replace(batch_size=64, lr=0.02)),
    labels=("A: batch 2", "B: batch 4", "C: batch 8", "D: batch 64"),
    panel="test_time", steps=1000)

_MOMENTUM = Lesson(
    key="momentum", title="BN momentum conventions and the lag of running statistics",
    explanation=(
        "The running statistics are exponential averages of the batch statistics, "
        "r = (1 - m) r + m x in PyTorch's convention. A uses PyTorch's default m = 0.1, which is the "
        "course's beta = 0.9. B uses m = 0.01, which is Keras's default momentum 0.99: the two "
        "frameworks' numbers point in opposite directions. C uses a cumulative average of all "
        "batches so far (PyTorch momentum=None). On the test-time panel watch the EMA gap between "
        "the running and the population statistics, above all its variance part. Early on B "
        "still remembers its initial variance of 1, so its gap is several times the others'. Later "
        "the picture turns: B averages over about a hundred batches and ends with the smallest gap, "
        "while the cumulative average keeps the statistics of long-gone weights."),
    configs=(SMALL.replace(bn_momentum=0.1), SMALL.replace(bn_momentum=0.01),
             SMALL.replace(bn_momentum=None)),
    labels=("A: m = 0.1 (course 0.9)", "B: m = 0.01 (Keras 0.99)", "C: cumulative"),
    panel="test_time", steps=1000)

# Wu & He 2018, Fig. 1, at lesson scale: the same network with batches of 2
# normalised three ways, and BN with 64 for reference. The whole curve is
# the sweep in NORM_BATCHES_SWEEP (bnviz --headless --sweep, or the window's).
_NORM_BATCHES = Lesson(
    key="norm_batches", title="Wu & He 2018, Fig. 1: BN, GroupNorm and LayerNorm with small batches",
    explanation=(
        "The same network trained on batches of two examples, normalised by batch norm (A), "
        "GroupNorm with 4 groups of 16 units (B) and LayerNorm (C), and with batch norm on batches "
        "of 64 for reference (D). BN's statistics come from the batch, and two examples give wild "
        "estimates of them; GroupNorm and LayerNorm normalise each example by its own units, so "
        "the batch size does not enter. After 1,500 steps, on the test-time panel: A reaches only "
        "about 80% test accuracy with its running statistics, and about 41% on test batches of two "
        "normalised as in training, while B and C reach about 97%, as well as BN with batches of "
        "64 (about 96%). Its training loss stays above 1.5 while the others fall to about 0.1. "
        "GroupNorm and LayerNorm have no running statistics: their accuracy is the same in every "
        "mode. The whole curve, test error against batch sizes from 2 to 64 for each "
        "normalization, is a sweep: bnviz --headless --lesson norm_batches --sweep "
        "batch_size=2,4,8,16,32,64 --norms bn,gn,ln --steps 1500."),
    configs=(SMALL.replace(batch_size=2, lr=0.02),
             SMALL.replace(batch_size=2, lr=0.02, norm="group", gn_groups=4),
             SMALL.replace(batch_size=2, lr=0.02, norm="layer"),
             SMALL.replace(batch_size=64, lr=0.02)),
    labels=("A: BN, batch 2", "B: GroupNorm, batch 2", "C: LayerNorm, batch 2", "D: BN, batch 64"),
    panel="test_time", steps=1500)

_RENORM_BASE = SMALL.replace(batch_size=2, lr=0.02, renorm_warmup=100, renorm_ramp=400)
_RENORM = Lesson(
    key="renorm", title="Ioffe 2017: Batch Renorm with small and non-i.i.d. batches",
    explanation=(
        "Batch Renorm corrects each batch's normalisation towards the running statistics, "
        "x_hat = (x - mu_B) / sigma_B * r + d, with r and d clipped and held constant in the "
        "backward pass; for its first 100 steps it is plain BN, then the limits open over 400 "
        "steps to r in [1/3, 3] and d in [-5, 5] (the Running statistics panel plots them). "
        "Here on batches of two examples: A with BN, B with Renorm; C and D the same with every "
        "batch drawn from two classes only (non-i.i.d.); E, BN with batches of 64. After 1,500 "
        "steps on the test-time panel, BN on batches of two reaches about 80% test accuracy "
        "against 96% with 64. Renorm recovers part of the loss, not most of it: about 86% (a "
        "third of the gap; 90% with population statistics). With two classes a batch BN reaches "
        "about 81% and Renorm about 88% (half the gap). On digits at this scale the "
        "non-i.i.d. batches cost BN nothing beyond the small batch itself: a random batch of two "
        "holds two classes nine times in ten anyway. The paper's larger effects are for deep "
        "networks on ImageNet."),
    configs=(_RENORM_BASE, _RENORM_BASE.replace(norm="renorm"),
             _RENORM_BASE.replace(sampler="two_classes"),
             _RENORM_BASE.replace(sampler="two_classes", norm="renorm"),
             _RENORM_BASE.replace(batch_size=64)),
    labels=("A: BN, batch 2", "B: Renorm, batch 2", "C: BN, 2 classes a batch",
            "D: Renorm, 2 classes a batch", "E: BN, batch 64"),
    panel="test_time", steps=1500)

_NOISY = Lesson(
    key="noisy_bn", title="Santurkar et al. 2018, Fig. 2: noise after BN",
    explanation=(
        "If batch norm worked by keeping each layer's input distribution steady (reducing "
        "internal covariate shift), shaking that distribution on purpose should undo its benefit. "
        "B is batch norm followed by noise: at every step each unit's output gets a new random "
        "shift (mean drawn from U(-0.5, 0.5)) and spread (standard deviation from U(0, 0.5)). "
        "Show run B on the Distributions panel (toolbar: Show run) and the training-batch bands "
        "of the last layer jump from step to step: the median of each unit's input to tanh moves "
        "about 0.36 per step, against 0.13 for plain BN (A) and 0.21 without BN (C). Yet B trains "
        "about as well as A: 96 to 97% test accuracy after 1,000 steps for both (C, without BN, "
        "too: this small network does not need BN to reach it). Santurkar et al. found the same "
        "on deep networks and concluded that a steady distribution is not what BN provides."),
    configs=(SMALL, SMALL.replace(norm="noisy", noise_scale=0.5), SMALL.replace(batchnorm=False)),
    labels=("A: BN", "B: noisy BN", "C: no BN"), panel="distributions", steps=1000)

CNN_DIGITS = preset("Small CNN on digits").replace(seed=1)

_CNN = Lesson(
    key="cnn", title="Batch norm in a CNN: statistics per channel, and the feature maps",
    explanation=(
        "Two convolution blocks (8 and 16 channels of 3×3, each followed by 2×2 max pooling) and a "
        "dense layer of 64, with batch norm in every layer (A) and without (B), on the same batches. "
        "In a convolution BN normalises each channel over the whole batch and every pixel (the "
        "first block: 64 examples × 64 pixels), with one mean, variance, γ and β per channel, so "
        "the layer selectors list channels. The Feature maps view shows one test example: every "
        "channel of a block before BN and after it. At test time BN is one affine map per channel, "
        "so each map keeps its pattern exactly (the correlation of a channel's map before and after "
        "is 1) while the channels come onto one scale: after 600 steps the first block's channels "
        "have standard deviations from 0.71 to 1.94 over the batch before BN, and after it each "
        "has |γ| (0.82 to 1.19).\n\n"
        "A learns faster: 95.6% test accuracy after 50 steps against 81.7% for B, and 98.3% "
        "against 96.7% after 600. In the Test-time lab, one example alone in training mode gets "
        "9.7% (chance): the convolution blocks still normalise it over its 64 or 16 pixels per "
        "channel, but the dense layer's BN sees a batch of one and outputs β whatever came in."),
    configs=(CNN_DIGITS, CNN_DIGITS.replace(batchnorm=False)), labels=("A: BN", "B: no BN"),
    panel="feature_maps", steps=600)

METERED = FIG1.replace(meters=True, meter_every=50)

_WHY = Lesson(
    key="why_bn", title="Santurkar et al. 2018: why BN helps, measured",
    explanation=(
        "Ioffe and Szegedy explained batch norm by internal covariate shift: each layer's input "
        "moves as the layers below learn. Santurkar et al. measured that shift directly (how much "
        "a layer's gradient changes when the layers below take their step, on the same batch) and "
        "found it no smaller with BN; they found instead a smoother loss landscape along the "
        "gradient. Their networks were deep; this is the Fig. 1 network (three layers of 100 "
        "sigmoids on the digits), with BN (A) and without (B), measured every 50 steps for "
        "2,000 steps.\n\n"
        "Covariate shift is not smaller with BN here either, it is larger: the median ‖G − G′‖ is "
        "0.028 for A's second layer against 0.0006 for B's, and 0.030 against 0.020 at the head. "
        "The loss varies less along the gradient with BN: its median range over the step sizes "
        "is 0.034 against 0.044 (0.016 against 0.036 over the last 500 steps). But the effective "
        "β-smoothness is not smaller: its median is 2.8 for A against 2.6 for B, so on this shallow "
        "network only part of the paper's picture shows. A trains faster all the same: 97% test "
        "accuracy at step 2,000 against 92%."),
    configs=(METERED, METERED.replace(batchnorm=False)), labels=("A: with BN", "B: without BN"),
    panel="landscape", steps=2000)

LESSONS: tuple[Lesson, ...] = (_FIG1, _BIAS, _GAMMA_BETA, _OPTIMIZERS, _SMALL_BATCHES, _MOMENTUM,
                               _NORM_BATCHES, _RENORM, _NOISY, _CNN, _WHY)


def lesson(key: str) -> Lesson:
    """The lesson with this key; KeyError naming the known keys otherwise."""
    for les in LESSONS:
        if les.key == key:
            return les
    raise KeyError(f"unknown lesson {key!r} (known: {', '.join(les.key for les in LESSONS)})")
