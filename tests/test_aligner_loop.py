# ruff: noqa: E501  (the recorded SHA-256 lines)
"""The training loop gives bit-identical results to the loop it replaced.

Each configuration of ``aligner_fingerprints.py`` was fitted on the code
before the loop was split into a plan, named steps and callbacks (commit
2ae7a76), on the CPU, and the SHA-256
of every tensor of ``model_``'s state dict, of the transform and predict
outputs, of ``n_iter_``, ``best_epoch_``, the loss curve, the validation scores
and the printed progress (timings masked) were recorded here. The refactored
loop must reproduce every one of them bit for bit.

Bit-identity holds for one torch build on one kind of CPU (kernels differ
between instruction sets and torch releases), so the comparison runs where the
hashes were recorded: torch ``RECORDED_TORCH`` on ``RECORDED_MACHINE``.
The configurations and the fingerprint are in ``aligner_fingerprints.py``;
``python tests/aligner_fingerprints.py`` prints them afresh.
"""

import contextlib
import dataclasses
import io
import platform
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from skcrossmodal.callbacks import (
    BestWeights,
    Callback,
    DivergenceCheck,
    EarlyStopping,
    ProgressPrinter,
    ValidationScoring,
)

torch = pytest.importorskip("torch")
from aligner_fingerprints import (  # noqa: E402
    CONFIGURATIONS,
    _sha,
    _small,
    _views,
    fingerprint,
)

RECORDED_TORCH = "2.13.0+cpu"
RECORDED_MACHINE = "x86_64"
EXPECTED = {
    "auto_with_validation": {
        "best_epoch_": "5feceb66ffc86f38d952786c6d696c79c2dbc239dd4e91b46729d73a27fb57e9",
        "linear_share_": "d0ff5974b6aa52cf562bea5921840c032a860a91a3512f7fe8f768f6bbe005f6",
        "loss_curve_": "3a15934e8a05dc727d6241eba6d49a5864c71a45e330a7ce19de576a97f8e8fd",
        "model_.encoder_x.0.bias": "579a67e38331ff5287d8c6d31d2174fe0253c4f71b0afda8367b5f31046b1488",
        "model_.encoder_x.0.weight": "49239fc22af8f9898833c86cc60461bcd077475c11866a5a26b852ef9bc89537",
        "model_.encoder_x.3.bias": "1f55df5d761d2e64c51d43194eaba057753cc555ab16284e89caf5f45e3d6731",
        "model_.encoder_x.3.weight": "e962daed9efdad11b75f6f29997f5dc90557bcb16c6cbaaab2dcebfdede5b008",
        "model_.encoder_y.0.bias": "1b7681f0d623a53f2adf8d2b03ab139419d7bde65b4e48a33d0aa158bf092df5",
        "model_.encoder_y.0.weight": "ed9d5fe7070f1552d7376aed702286dede47c8e19034476237291321c84d4ce3",
        "model_.encoder_y.3.bias": "1f55df5d761d2e64c51d43194eaba057753cc555ab16284e89caf5f45e3d6731",
        "model_.encoder_y.3.weight": "e962daed9efdad11b75f6f29997f5dc90557bcb16c6cbaaab2dcebfdede5b008",
        "model_.linear_x.bias": "c42d4e967f2e122e503d8b4e82d3cba1c1e485aabb18f556c3f9b2b87c6daffd",
        "model_.linear_x.weight": "f54e070e9ba4106525b1ba4cc63480d99f87f733aefb43c42c34c3b9f8c63bcc",
        "model_.linear_y.bias": "883702d67a0d6190340fca3406265263f9782306928af8b070a0ac509b452a4b",
        "model_.linear_y.weight": "9307dd5653165926e026640678e09aeb973ee6f9980b28430bf4e107a07240bc",
        "model_.logit_scale": "6833eb99bcf17fe9828814e366cc1bb71836d666451fa61e8abce6ca3abfa6dd",
        "n_iter_": "4e07408562bedb8b60ce05c1decfe3ad16b72230967de01f640b7e4729b49fce",
        "predict": "2c95a38eb146098ae010ed3ba9ecfbe1a206cee7141aa55cc94547646ba0057d",
        "stdout": "6f49cdbd80e1b95d5e6427e1501fc217790daee87055fa5b4e71064288bddede",
        "transform_x": "e239b71bee9766eaec9734b94fb2430794e0c73080c5a362bdd2f14b8ccfa10b",
        "transform_y": "b576d3fd846ffa96d39f2862708bd2002f3ffa151dde4491da9c6d12851c340f",
        "validation_scores_": "de48452555dfba81933ae7285980234631d38716857a5f0eedac5165aadb68d7",
    },
    "cca_start": {
        "best_epoch_": "5feceb66ffc86f38d952786c6d696c79c2dbc239dd4e91b46729d73a27fb57e9",
        "linear_share_": "dc937b59892604f5a86ac96936cd7ff09e25f18ae6b758e8014a24c7fa039e91",
        "loss_curve_": "af624e5f45f8e9b0339192d17b4f60a649cec52e45aa14785d3e933f98c0c127",
        "model_.decoder_y.0.bias": "2373e018c2812692c8e14da580a3e448f2bba2b80593d1d7855602d7cae7717d",
        "model_.decoder_y.0.weight": "6f1107e15baa68ed4e1211a86a621e289dbc5663da60e3e3148be4a6593af14a",
        "model_.decoder_y.3.bias": "641d672ca28a8aac95de3bd400c128aa75d7c8c029985cccfb909a92af2ea604",
        "model_.decoder_y.3.weight": "8e02737e6e50b33fd474dc906b0a3e1d186a3a9b5357c2f96964f7db32d79d7f",
        "model_.encoder_x.0.bias": "500a0be64f46eae6351a23eca7d5f222fdf03f9d73b9fa2120086f6a46ee47cb",
        "model_.encoder_x.0.weight": "e4ce90b6d6efd1e27027176a5064d1e542f86a74e10872cb6a26b970456f58b0",
        "model_.encoder_x.3.bias": "1f55df5d761d2e64c51d43194eaba057753cc555ab16284e89caf5f45e3d6731",
        "model_.encoder_x.3.weight": "e962daed9efdad11b75f6f29997f5dc90557bcb16c6cbaaab2dcebfdede5b008",
        "model_.encoder_y.0.bias": "f4afa59dd19b73f47b5a76dc24f4fe76d08f8ffb7e1bfc1f43009225c78bd4dd",
        "model_.encoder_y.0.weight": "7e35c6f1876b05f31b72e4bfd026f6a0ca048835519d05c9db3371b401b451a9",
        "model_.encoder_y.3.bias": "1f55df5d761d2e64c51d43194eaba057753cc555ab16284e89caf5f45e3d6731",
        "model_.encoder_y.3.weight": "e962daed9efdad11b75f6f29997f5dc90557bcb16c6cbaaab2dcebfdede5b008",
        "model_.linear_x.bias": "a5aeaf186c55f2eb203efe944d2bf2381c2d09191c00195655fe080b15c8ba55",
        "model_.linear_x.weight": "10e103f7cca74a33021813b7be8d8d482499f5f314543cd0faf9584865c9b56a",
        "model_.linear_y.bias": "b82775fa8412f5d7c7bbee2d024108a3d7408b9749b28801fc6d5a8bf7cbf0be",
        "model_.linear_y.weight": "975ecbaeb496634bf44e04ef3865217a1dbf5936b0a8c9229be07fff33c65b09",
        "model_.logit_scale": "16bc01d7d3fd867dab7257df2eec09b96ce22fa745b4c1283c3639c234f6ebbb",
        "n_iter_": "4e07408562bedb8b60ce05c1decfe3ad16b72230967de01f640b7e4729b49fce",
        "predict": "fa378d7002cbcad49a8d68678c828116805589d9b5d823b30ae7fe6f39cff267",
        "stdout": "6f49cdbd80e1b95d5e6427e1501fc217790daee87055fa5b4e71064288bddede",
        "transform_x": "c9832de3a9fa8aeb1e4c8b7da038609bec39feb38267a7add261dde7762eee09",
        "transform_y": "675dbdaf6f6dfdbe34f5f567afc5e1f126d27697c5acbb1cc735163ce956cf35",
        "validation_scores_": "f6c2393843ccf08508060948552077c35bddd490547301ca88be67cf03454f97",
    },
    "default_auto": {
        "best_epoch_": "5feceb66ffc86f38d952786c6d696c79c2dbc239dd4e91b46729d73a27fb57e9",
        "linear_share_": "d0ff5974b6aa52cf562bea5921840c032a860a91a3512f7fe8f768f6bbe005f6",
        "loss_curve_": "8cc047263a189e8475828d53de57b0f7ba6d072d1f4ebb622df0785a577c904e",
        "model_.encoder_x.0.bias": "690bc5e30a23ee6a0caa72525c04db183615a2c41fb7df1403d2cac5b9ce35c5",
        "model_.encoder_x.0.weight": "11f69633ef4f7e1c5fd103543ca9ba1b41d81c1b6b9d226c4cef513c8a307656",
        "model_.encoder_x.3.bias": "1f55df5d761d2e64c51d43194eaba057753cc555ab16284e89caf5f45e3d6731",
        "model_.encoder_x.3.weight": "e962daed9efdad11b75f6f29997f5dc90557bcb16c6cbaaab2dcebfdede5b008",
        "model_.encoder_y.0.bias": "2398689efc287d61d1087179311a423926108aa81e57c67849777bbf508c4401",
        "model_.encoder_y.0.weight": "19206a71f3bd96b5c55775e9db52e3fbe67b033511f05acaf19164602fb724d8",
        "model_.encoder_y.3.bias": "1f55df5d761d2e64c51d43194eaba057753cc555ab16284e89caf5f45e3d6731",
        "model_.encoder_y.3.weight": "e962daed9efdad11b75f6f29997f5dc90557bcb16c6cbaaab2dcebfdede5b008",
        "model_.linear_x.bias": "d0695466670493b6f1912149e717f1f65f383892b6ffd79280b92a1d577897ee",
        "model_.linear_x.weight": "86d7f04278c4b39929357ad549bea09903c1a06ba560cf6f2d41ee803729fd24",
        "model_.linear_y.bias": "9bbdcbecb5b62a20a3d43979e39bd94a5d5765311533baf091158ae80c78fe73",
        "model_.linear_y.weight": "8c486cf37c3eba273ecfad2d5d1d5cbaa799db59408c23f0f2722f196e7ed44b",
        "model_.logit_scale": "13b538a795dfce899b9c5212340202bfc683d10b6287e185b0b238a1d64fd8f9",
        "n_iter_": "4e07408562bedb8b60ce05c1decfe3ad16b72230967de01f640b7e4729b49fce",
        "predict": "02dcb8e25b3c6e3d748c84cbcbbf8f3fb06c7910ec06284e788d0197c6cdd903",
        "stdout": "6f49cdbd80e1b95d5e6427e1501fc217790daee87055fa5b4e71064288bddede",
        "transform_x": "6070635c704245c5fa101413a8f65465fb8d1fa8ee4c0f43513281b5ab1cb0f9",
        "transform_y": "b641933008f7601f20652040b2da09e8b917136aa9b5277d30e914d491689530",
        "validation_scores_": "dc937b59892604f5a86ac96936cd7ff09e25f18ae6b758e8014a24c7fa039e91",
    },
    "image_cnn": {
        "best_epoch_": "d4735e3a265e16eee03f59718b9b5d03019c07d8b6c51f90da3a666eec13ab35",
        "linear_share_": "dc937b59892604f5a86ac96936cd7ff09e25f18ae6b758e8014a24c7fa039e91",
        "loss_curve_": "2305b0ed2da7f3c78738e591241860cf65dde03b6e25d66c2e39001c139eceb1",
        "model_.encoder_x.features.0.bias": "31142997509a1079e26f50ba1dcc08c1620f41ecebf3afeb00c7294edd680785",
        "model_.encoder_x.features.0.weight": "38ca1a8de6e5058c737032c2cb3b0190c4b35e27c7382c2bd32eb3c38fe71f39",
        "model_.encoder_x.head.0.bias": "fa9f9701da812d8aaa8fcd23f09f92e8b5709a2a68743e553a19b43ec1f84d35",
        "model_.encoder_x.head.0.weight": "2a8d5725ff4e0001bcccc20c4096c580232dceaaa364d5a5f8bd633b12f814b9",
        "model_.encoder_x.head.2.bias": "bcec0aa911d96f10debcf004c6a82f08c0a654ecdc5cb706f8e4734a4bea8fa8",
        "model_.encoder_x.head.2.weight": "d76d4d4a98bd109d8df779de0036dbbe5cc13ec5692dfb1799c027a672fafff5",
        "model_.encoder_y.0.bias": "96bdeea92912c179afd22ae005140ca69d4e857190bdd6e9010d62669fd1a355",
        "model_.encoder_y.0.weight": "01af542577fc088cc438f303478f45d76f8e627b72484a3bfcf2f4ed52e83575",
        "model_.encoder_y.3.bias": "58d2ce33b3f5fd2f1297826530db3e6c6d6b23ccb2e2cc97093f306780bed4a5",
        "model_.encoder_y.3.weight": "5b9cc4d33396e4d06409c97c4d13016af99b9a2e7f3cc03dc7e68ae37b45b5d9",
        "model_.logit_scale": "61753859e41a41ba59e65b669214eac128fcaf8c4e5dc0e8d7bd16c16777cc99",
        "n_iter_": "d4735e3a265e16eee03f59718b9b5d03019c07d8b6c51f90da3a666eec13ab35",
        "predict": "88abea15c79de83ba7ab8419973f362f19e7046296da967ec33b24677a954f3e",
        "stdout": "6f49cdbd80e1b95d5e6427e1501fc217790daee87055fa5b4e71064288bddede",
        "transform_x": "3cde99f0066d985307cd13140ad9b2b1fe5483f2927a9f8220a773bf5f35c3a0",
        "transform_y": "2c9cccc3e3d093dd27ebc79faab6bd79ae02e9d6987850712e715444faf7b4cf",
        "validation_scores_": "dc937b59892604f5a86ac96936cd7ff09e25f18ae6b758e8014a24c7fa039e91",
    },
    "module_class": {
        "best_epoch_": "4e07408562bedb8b60ce05c1decfe3ad16b72230967de01f640b7e4729b49fce",
        "linear_share_": "dc937b59892604f5a86ac96936cd7ff09e25f18ae6b758e8014a24c7fa039e91",
        "loss_curve_": "38d389cd6dbf6f56147fc9ba1e6053fb01001b143d9b1e525f2a6a2a3044dca6",
        "model_.encoder_x.net.0.bias": "85f6b6e1550c9bbf3d92642974d239c6d91dfb23c54ffaf891b9fd18483eaec5",
        "model_.encoder_x.net.0.weight": "49fd989c2a429cd509b65a06465d6ae367391ba610746ddbf6796a16acd4dcef",
        "model_.encoder_x.net.2.bias": "d7d1fc29e7145105ba9df9dead4d0eda837d88c4eab6d90cc2638f5962dfbfde",
        "model_.encoder_x.net.2.weight": "3fd3e4ec84f8b2cb3ceaacc8e39a8484a4d4796f35c1010870d960b12cdab411",
        "model_.encoder_y.0.bias": "845c0bd4b4ea3c05d1abd54a63989f1bdb5e392a903ab29fc074923e6abf873d",
        "model_.encoder_y.0.weight": "48e4417e6d48756bdefb5af3520a6dcf00fc4f3ae501494a704d8acf53508e07",
        "model_.encoder_y.3.bias": "caed40b0f8861cb901b7ed4896f7cf49204121c9695f2d057be116c388b5f924",
        "model_.encoder_y.3.weight": "6cf525a01454476addaf551c314b0b61cf72c1ef314867550db307ac35047351",
        "model_.logit_scale": "24c5c848b9a04fb3bcf6c2bd4fa47da55f244cac4e907a81f0826e2e583de640",
        "n_iter_": "4e07408562bedb8b60ce05c1decfe3ad16b72230967de01f640b7e4729b49fce",
        "predict": "b8de71aaf3d2211b9cb3f1866aab35f83254843e6e05706f8fcec0ae39f27cae",
        "stdout": "6f49cdbd80e1b95d5e6427e1501fc217790daee87055fa5b4e71064288bddede",
        "transform_x": "791207c23f21aa3c8d4b04ead48ad0e6cd03bd7119182748699ce5618317a803",
        "transform_y": "c5a01743deff277a99cdd2e340278fd8b4cec56d8b00095cf27a518c9abaa827",
        "validation_scores_": "dc937b59892604f5a86ac96936cd7ff09e25f18ae6b758e8014a24c7fa039e91",
    },
    "partial_fit_twice": {
        "best_epoch_": "d4735e3a265e16eee03f59718b9b5d03019c07d8b6c51f90da3a666eec13ab35",
        "linear_share_": "dc937b59892604f5a86ac96936cd7ff09e25f18ae6b758e8014a24c7fa039e91",
        "loss_curve_": "42d69e7acab827c1d1c2752befee4ff6cb51a13393eaae1c88545d528f02d699",
        "model_.encoder_x.0.bias": "8c56b8f2704a8f3da81f026f171d2f17ac3d4cec35314ac97e819dde3dd0fb21",
        "model_.encoder_x.0.weight": "8c0eb602287782469cb0a1bddf05fcea5a44b6341cb588ac0a9b4ff5ae95628b",
        "model_.encoder_x.3.bias": "e8284f9b3b3c259dd39e733a36b3003cee10f2f7b51c217b3956b283a7912c06",
        "model_.encoder_x.3.weight": "e80df66e7d677ce0004cec6e9e0ecddaf98f2890df5e8fad4a487520861ae940",
        "model_.encoder_y.0.bias": "3077d069f0d760c4091252a425799fe11689479c1f0d52c8be616b3741545f90",
        "model_.encoder_y.0.weight": "3affd7bf2b500e08fe1bcb781a5d282a4195d86635e13b66f324b8d08be96aa9",
        "model_.encoder_y.3.bias": "15c5aac258ada05478514eba942e551d506386e7b16633ed72a6854981dd01ad",
        "model_.encoder_y.3.weight": "ece1a197b0ec352445e21287bbc79d8f85b771236805618b21364f5548b51899",
        "model_.logit_scale": "e60c755967ac538074d3a80fd2275ecd8c5bf4810862ff37efc693a0213d5cc2",
        "n_iter_": "d4735e3a265e16eee03f59718b9b5d03019c07d8b6c51f90da3a666eec13ab35",
        "predict": "a9a3ca1b9bdebff9fe2de218c9e6b9b10a20e914361b999546770304785be831",
        "stdout": "6f49cdbd80e1b95d5e6427e1501fc217790daee87055fa5b4e71064288bddede",
        "transform_x": "3fa57b3c6fb105d419a010a6713ddb036c6a4b4ba4bce8e3d77e68102a287053",
        "transform_y": "b6cb8541845d7455a5a635820083a0e22008a2f3c2dd4379dae12c372078df0b",
        "validation_scores_": "dc937b59892604f5a86ac96936cd7ff09e25f18ae6b758e8014a24c7fa039e91",
    },
    "random_early_stopping": {
        "best_epoch_": "4b227777d4dd1fc61c6f884f48641d02b4d121d3fd328cb08b5531fcacdabf8a",
        "linear_share_": "dc937b59892604f5a86ac96936cd7ff09e25f18ae6b758e8014a24c7fa039e91",
        "loss_curve_": "dc1045d7747cb29f357e0fe030b9bf0f1d443cc33b2907fb2e8f1ed3240f6fb8",
        "model_.encoder_x.0.bias": "d8edd8bc8acc8b008aa62d7ee7c3f39dd16c53c6a1512ec56b329647eb381869",
        "model_.encoder_x.0.weight": "bad2736d9a6c796a0ca65292b76dce7bfc9aaa6b50725189f898731064fdb2cf",
        "model_.encoder_x.3.bias": "a3a680a35210eebe07dd235aeb2b9280c5d245e2f01b129c36bba7f777598f7c",
        "model_.encoder_x.3.weight": "3931264d0b85d8faff8917fb556a291409ba5c85e240f0cfa8ce8fd46e933def",
        "model_.encoder_y.0.bias": "37b60b36309256d9adde79a7df19172f0c1e6bb75b1181cafada2f76747d0d96",
        "model_.encoder_y.0.weight": "c178af50eb67379de146a8a26feea79cc603c9f8e55dc25cc93a1a3412003a3f",
        "model_.encoder_y.3.bias": "c6ec734ad7a68c405a32a6c659775596561fdb84031411a70e2ba70bc9141cba",
        "model_.encoder_y.3.weight": "7436b8fddce97b21e5836ecf28ee6ae05b60e3074374f06e8942dac0d75d2854",
        "model_.logit_scale": "39dd2b39c453dc35be371f68c78814b6e7a5bd57009c6025474f0d59f8038c09",
        "n_iter_": "e7f6c011776e8db7cd330b54174fd76f7d0216b612387a5ffcfb81e6f0919683",
        "predict": "e321aed9dc779f13f6f58870f3aec7a0f27763fdb4c0752354aafc8225106530",
        "stdout": "6f49cdbd80e1b95d5e6427e1501fc217790daee87055fa5b4e71064288bddede",
        "transform_x": "79a6489c32b9adbe67a872fc4f3ebc0e39b6bd3eddd8b0704870d63ca97bba5d",
        "transform_y": "4627d33e3125d61768e585993fd4dc08763a18a8c4c5e59faf60dca2f6fc8860",
        "validation_scores_": "8ceb0d98c83c0d3b00aaa738c19a6957c2795225e47a29a0b9689df8997a17e0",
    },
    "sample_weight": {
        "best_epoch_": "4e07408562bedb8b60ce05c1decfe3ad16b72230967de01f640b7e4729b49fce",
        "linear_share_": "dc937b59892604f5a86ac96936cd7ff09e25f18ae6b758e8014a24c7fa039e91",
        "loss_curve_": "2f59a2af4ae97f46cdca400d58fbab4729419843d9124b32c21044b192302009",
        "model_.encoder_x.0.bias": "e59213ba92e10599c5361789b469b388cc9154257f62c7ef4421eb6bdb53646d",
        "model_.encoder_x.0.weight": "2472a3c32f93d97b4aa0b15922a13ea6701a2410d42ad530d662b6ed595e0d17",
        "model_.encoder_x.3.bias": "014b25e9508d129c594d3f1341171be435ab3c96b4ec24bd9794aa4d24d033ca",
        "model_.encoder_x.3.weight": "5ab27da64d9ebdfc9b808d52cf24b1d6e20799e402ec02962d8d2127a195415d",
        "model_.encoder_y.0.bias": "2ad0177f668039dd1cd06c718952a0c593493ecdc90061b2e14f255b8814a46a",
        "model_.encoder_y.0.weight": "2ebc1980053756b3c821318faf9fa15be12b0f8acef8bb177102247109bdeffb",
        "model_.encoder_y.3.bias": "0f38ae608a71f72383a84e465efca64a741e50c207ec66f30574e60fcc0c2407",
        "model_.encoder_y.3.weight": "4502c80f1a6b6e54deeccb751d339b6315df8354f1da0ab7c6289f4db1564e0f",
        "model_.logit_scale": "18a2ab785cb9e214071d9e2ce6a317e4cad2bf66c53525ae079f0a8ba4fe9848",
        "n_iter_": "4e07408562bedb8b60ce05c1decfe3ad16b72230967de01f640b7e4729b49fce",
        "predict": "aeaa02f742d8569098d8309d97bbe0095bc25ccc80de339a64d8967cdf42f4d3",
        "stdout": "6f49cdbd80e1b95d5e6427e1501fc217790daee87055fa5b4e71064288bddede",
        "transform_x": "ec15d56baeca5471bc38d70778acff5db0a3a438d65edd684bbc31e0ecacb906",
        "transform_y": "a40b6f8d69f19ac50ae37c3b6cd56699fb734c9b11652233d2861d561fd08cd2",
        "validation_scores_": "dc937b59892604f5a86ac96936cd7ff09e25f18ae6b758e8014a24c7fa039e91",
    },
    "siglip": {
        "best_epoch_": "4e07408562bedb8b60ce05c1decfe3ad16b72230967de01f640b7e4729b49fce",
        "linear_share_": "dc937b59892604f5a86ac96936cd7ff09e25f18ae6b758e8014a24c7fa039e91",
        "loss_curve_": "cc1dba90795f9a9a4750a405e1d564ab07cfb2d7470611c9ae7b6ca786d5444a",
        "model_.encoder_x.0.bias": "a2d1efd2c2b3ee9d30189985c71c017fb4bc9a22feb4f95558e51c0325ab940c",
        "model_.encoder_x.0.weight": "4df227f166cddef7a1f4085ece845b73964a1280f813f90ec58abd1ca7478c41",
        "model_.encoder_x.3.bias": "697f43519ebb8a69e2c392d20fc53138da9d4e592ea8fa8421a442a174f51953",
        "model_.encoder_x.3.weight": "8258a837cb64e46caeb836d5f27af6ab603b71fb387afe7ec45f6d67295bd4c5",
        "model_.encoder_y.0.bias": "dee3744b0545e8a013dd0e31c9faf1f52371dd4f07105087e1a92de92ef5ab75",
        "model_.encoder_y.0.weight": "73302bab3fb871c9cacdb084add96213327324590b9ce2f69ff06a6d0e113bd3",
        "model_.encoder_y.3.bias": "3382500df8257095ce894194abb90d416019537e23e2bc63f21efa6ed7dec839",
        "model_.encoder_y.3.weight": "8588b501f72b001f134f34fc1dc57d5bfc70ba3528088e3a92c1a2520ae753d2",
        "model_.logit_bias": "9a0c1256610264e77d2339c21bc89166a76e5ab1a68c4c450e3266a836950da9",
        "model_.logit_scale": "544be13d0c5a30454105df0387d98eb28265ff5c624a1da4d08aae45ff8560c8",
        "n_iter_": "4e07408562bedb8b60ce05c1decfe3ad16b72230967de01f640b7e4729b49fce",
        "predict": "22b0b13a06205dbfc9033027edd362d3c1d0353b4299f2e2c740973d28859f32",
        "stdout": "6f49cdbd80e1b95d5e6427e1501fc217790daee87055fa5b4e71064288bddede",
        "transform_x": "03d9ec8e647785dcd258f486cc1d3cd30dd8523d9ba1cbb06e97648252603a11",
        "transform_y": "b47d948eec38cc8153b24e6d67c385f63081567790e5467262e46b5e86f632c8",
        "validation_scores_": "dc937b59892604f5a86ac96936cd7ff09e25f18ae6b758e8014a24c7fa039e91",
    },
    "uniform_sample_weight": {
        "best_epoch_": "4e07408562bedb8b60ce05c1decfe3ad16b72230967de01f640b7e4729b49fce",
        "linear_share_": "dc937b59892604f5a86ac96936cd7ff09e25f18ae6b758e8014a24c7fa039e91",
        "loss_curve_": "ee1fc0d5421e0da5840f654cf4c663f4c9692e9e454dee270344542468872549",
        "model_.encoder_x.0.bias": "88a9e74d48cc75c5d434ecbb02d3d9e338c8618bbeab859e5722019faed7143f",
        "model_.encoder_x.0.weight": "3bd77ae9f5ebc2865bc6f4ad40104d3352d206a16de190bccca7796548b0bcc9",
        "model_.encoder_x.3.bias": "c3a19c6c8e93663767ae438a75d327bdc127e156e7bfb7edecec28868e9f9899",
        "model_.encoder_x.3.weight": "d7bb2789a89a4b9d8fb34acf622f92ab2e68dd9f605318398cee3b3d1eab5544",
        "model_.encoder_y.0.bias": "88bcd7a5c3f0d03868a549c1bbe8fe7bfd1318a4ff80e085d482e19ea9aeb663",
        "model_.encoder_y.0.weight": "5938b2e1d00f4b2bcfdd19eed97133e37d7b8d9b30420ad316c433e2ce3e3c45",
        "model_.encoder_y.3.bias": "3e971e4f450ce173e687b2d290d743046786d919e451d8a35fd70642534b86eb",
        "model_.encoder_y.3.weight": "70fa71139abeff8f92fb02b886511458b8a3d9519a20d7ba2c888a3fcfac7e99",
        "model_.logit_scale": "97de51b362f3db2e9523f91ea6eb77a389f1fc3765f5536f5e6fb757f82c9a4a",
        "n_iter_": "4e07408562bedb8b60ce05c1decfe3ad16b72230967de01f640b7e4729b49fce",
        "predict": "050fa1b2ce369afd1e3a8d8140feb34265170d3a05c1fd9b4e6e998f081f7b76",
        "stdout": "6f49cdbd80e1b95d5e6427e1501fc217790daee87055fa5b4e71064288bddede",
        "transform_x": "578c0af260359604c5a2033e77f08b3ebd846572f57cb1a6d2625170c8411b84",
        "transform_y": "3b0109426cb703f4b0ef6448b1f7c9f72dde354de7feea499ceb6e79bf32363f",
        "validation_scores_": "dc937b59892604f5a86ac96936cd7ff09e25f18ae6b758e8014a24c7fa039e91",
    },
    "verbose": {
        "best_epoch_": "4e07408562bedb8b60ce05c1decfe3ad16b72230967de01f640b7e4729b49fce",
        "linear_share_": "dc937b59892604f5a86ac96936cd7ff09e25f18ae6b758e8014a24c7fa039e91",
        "loss_curve_": "6ba339552f00fbc2ae156a10e0dd7b0fb8a59e797dd8e519895df3029695b4cb",
        "model_.encoder_x.0.bias": "4e9a30a8675e84328ce3bf82a66602b2cd52a280d690cf67c492dc860e1a7dca",
        "model_.encoder_x.0.weight": "5c6d1383703bf5f777f16533d1b157d8323707362c6ebb2b1eafb565ef1e03e5",
        "model_.encoder_x.3.bias": "4942c5aea290e362f50568f8bd7562dd3da70ca0a59d207935a7b88e6e10583b",
        "model_.encoder_x.3.weight": "527a0449f865721d96f75240a0af7c494885b8b96f0bcb8313bcb327ba5243de",
        "model_.encoder_y.0.bias": "8b7ba1745000deccf0194fd8df4050e9206c62faa94b0326b151b8a95a58ed65",
        "model_.encoder_y.0.weight": "2045138483e21f90c47e7532c386bced738f9949b7b34816be61d67937a6faa9",
        "model_.encoder_y.3.bias": "8afff057cd6724292b89ae8cb5d95e98e64f4a8cb384014101abb1603b7e74b7",
        "model_.encoder_y.3.weight": "f1940d1eeec89a6307d326204483be50bb15e74c73fbd3cd24506396d73bcae4",
        "model_.logit_scale": "517fbf984dfb4417e6052519e010f3f929b2b3105fdf06c5e4504b41f2e2054a",
        "n_iter_": "4e07408562bedb8b60ce05c1decfe3ad16b72230967de01f640b7e4729b49fce",
        "predict": "e070ab863f13dc122229264247e531f9ef9498cfa392d469a0071d85715fc1c9",
        "stdout": "d35b38174e01bf549a1f2ed19be514659ebfa3a6f2279655c6f9c9af07150829",
        "transform_x": "01de213c1942765128c3a0e6c31e96b5e674284f3545f15e628c3ee49d457e35",
        "transform_y": "90fcde806c2a83c0a5e1b61ed7e8fb3711cf0a652f9b7fb9f67dd4c5170c9e03",
        "validation_scores_": "7b7ac56eccf40468cdb6caebf13d48afb2307c0ae98bf5030a2bf9c1f8b1f68c",
    },
    "warm_start": {
        "best_epoch_": "ef2d127de37b942baad06145e54b0c619a1f22327b2ebbcfbec78f5564afe39d",
        "linear_share_": "dc937b59892604f5a86ac96936cd7ff09e25f18ae6b758e8014a24c7fa039e91",
        "loss_curve_": "a2642f00d16388dc6f05c3c872503f9a6a4247080f4a038b8a0e0d1e1dc61168",
        "model_.encoder_x.0.bias": "dd0cf1074ed093353016d207220cf9bdea148b28d437127c0723d9c44f7a9124",
        "model_.encoder_x.0.weight": "71b3f4f80799a90999acfbfbc6ef77c35dd861de47f3751c863cdf95edd31b46",
        "model_.encoder_x.3.bias": "9afdee17e31f69502dbc0cc02fb38fbcdfaf4dcf3da70df7ebb6862d0c1f56d4",
        "model_.encoder_x.3.weight": "26dccf3c41e320f672ffa4ce133e7dfb6ff64543420428e829e2017ba4c82c05",
        "model_.encoder_y.0.bias": "f1fbf8f7dcb9d760e6a22342c09078bf0f18ae2f69b8fd9127eeffe9a92622e1",
        "model_.encoder_y.0.weight": "8875532e1948182cbe0faf2a4fb118a0f497b48160e802b87378c400a2bc022d",
        "model_.encoder_y.3.bias": "3677ce699b13cc7073ec0c12b9fede2b3b448f3cb240e95f96bad117af364946",
        "model_.encoder_y.3.weight": "8f4849bd901c39af985f87a7b88c1d20d1fb8601deb022b7a839c2277264e7c8",
        "model_.logit_scale": "80827f17d180f81032db1499aeeed321c37d70cf6d4fec94ade9cc88c8a80c17",
        "n_iter_": "ef2d127de37b942baad06145e54b0c619a1f22327b2ebbcfbec78f5564afe39d",
        "predict": "b71f9f59bde04c42617c947de62acfb41d18e656ab52d4fa7adb0bb862765eaa",
        "stdout": "6f49cdbd80e1b95d5e6427e1501fc217790daee87055fa5b4e71064288bddede",
        "transform_x": "75f50e952c903dcd1d9b13febecad7fbb1773329aa39355627ceb63ec81da916",
        "transform_y": "4ae53fe2cecb6da78a3c6945c484c8f6ef0dd4aad02312b01e50353fce3c2116",
        "validation_scores_": "dc937b59892604f5a86ac96936cd7ff09e25f18ae6b758e8014a24c7fa039e91",
    },
}


def _where_recorded():
    return torch.__version__ == RECORDED_TORCH and platform.machine() == (
        RECORDED_MACHINE
    )


@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
def test_fit_is_bit_identical_to_the_recorded_loop(name):
    """Every weight, output, counter and printed line hashes as recorded."""
    if not _where_recorded():
        pytest.skip(
            f"hashes recorded with torch {RECORDED_TORCH} on {RECORDED_MACHINE}"
        )
    assert fingerprint(name) == EXPECTED[name]


def test_fingerprint_tells_runs_apart():
    """The fingerprint sees a different seed (so equal hashes mean something)."""
    X, y = _views()
    a = _small(init="random", max_epochs=1).fit(X, y)
    b = _small(init="random", max_epochs=1, random_state=1).fit(X, y)
    assert _sha(a.transform(X)) != _sha(b.transform(X))
    assert _sha(a.transform(X)) == _sha(
        _small(init="random", max_epochs=1).fit(X, y).transform(X)
    )


# -------------------------------------------------------------- callbacks ---
class Recorder(Callback):
    """Records what the loop shows; stops after ``stop_after`` epochs if given."""

    def __init__(self, stop_after=None):
        self.stop_after = stop_after

    def on_train_begin(self, loop):
        self.calls = getattr(self, "calls", 0) + 1
        self.epochs, self.losses, self.scores, self.messages = [], [], [], []

    def on_epoch_end(self, loop, record):
        self.epochs.append(record.epoch)
        self.losses.append(record.loss)
        self.scores.append(record.score)
        if self.stop_after is not None and len(self.epochs) == self.stop_after:
            loop.stop("the recorder had enough")

    def on_fit_end(self, loop, message):
        self.messages.append(message)


def test_a_user_callback_sees_every_epoch():
    """Its epochs and losses are the fit's, warm starts numbered on."""
    X, y = _views()
    recorder = Recorder()
    model = _small(init="random", max_epochs=4, callbacks=[recorder]).fit(X, y)
    assert recorder.epochs == [1, 2, 3, 4]
    assert recorder.losses == model.loss_curve_
    assert recorder.scores == [None] * 4  # no validation, no score
    assert recorder.messages == [
        "Stopped after epoch 4: max_epochs reached; the weights of epoch 4 are kept."
    ]
    model.set_params(warm_start=True, max_epochs=2).fit(X, y)
    assert recorder.calls == 2 and recorder.epochs == [5, 6]
    assert recorder.losses == model.loss_curve_[4:]


def test_a_user_callback_sees_the_validation_scores():
    """With early stopping the built-in scoring runs before a user's callback."""
    X, y = _views(200)
    recorder = Recorder()
    model = _small(
        init="random",
        early_stopping=True,
        validation_interval=2,
        max_epochs=5,
        callbacks=[recorder],
    ).fit(X, y)
    expected = [None if np.isnan(s) else s for s in model.validation_scores_]
    assert recorder.scores == expected
    assert [s is None for s in expected] == [True, False, True, False, False]


def test_a_user_callback_can_stop_training():
    """Stopped after 3 epochs, the fit is bit for bit a fit of 3 epochs."""
    X, y = _views()
    recorder = Recorder(stop_after=3)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        model = _small(
            init="random", max_epochs=10, verbose=1, callbacks=[recorder]
        ).fit(X, y)
    assert model.n_iter_ == model.best_epoch_ == 3 == len(recorder.losses)
    three = _small(init="random", max_epochs=3).fit(X, y)
    assert model.loss_curve_ == three.loss_curve_
    np.testing.assert_array_equal(model.transform(X), three.transform(X))
    last = out.getvalue().splitlines()[-1]
    assert last == (
        "Stopped after epoch 3: the recorder had enough; the weights of epoch 3 "
        "are kept."
    )


def test_a_diverged_epoch_is_not_shown_to_user_callbacks(monkeypatch):
    """NaN weights in epoch 3: the user sees epochs 1 and 2, as the fit keeps."""
    from skcrossmodal._torch import loop as training

    original = training.TrainingLoop.train_step
    steps = {"n": 0}

    def step(self, x, y, sample_weight):
        share = original(self, x, y, sample_weight)
        steps["n"] += 1
        if steps["n"] == 5:  # 2 batches per epoch: the first step of epoch 3
            with torch.no_grad():
                next(self.model.parameters()).fill_(np.nan)
        return share

    monkeypatch.setattr(training.TrainingLoop, "train_step", step)
    X, y = _views()
    recorder = Recorder()
    model = _small(init="random", batch_size=60, max_epochs=6, callbacks=[recorder])
    with pytest.warns(ConvergenceWarning, match="diverged in epoch 3"):
        model.fit(X, y)
    assert recorder.epochs == [1, 2] and model.n_iter_ == model.best_epoch_ == 2
    assert recorder.losses == model.loss_curve_
    assert recorder.messages[0].startswith("Training diverged in epoch 3")


def test_callbacks_are_parameters_that_clone():
    """get_params shows them, clone copies them, set_params replaces them."""
    recorder = Recorder(stop_after=2)
    model = _small(callbacks=[recorder])
    assert model.get_params()["callbacks"] == [recorder]
    copy = clone(model)
    (copied,) = copy.callbacks
    assert copied is not recorder and isinstance(copied, Recorder)
    assert copied.stop_after == 2
    X, y = _views()
    copy.set_params(init="random", max_epochs=5).fit(X, y)
    assert copy.n_iter_ == 2 and copied.epochs == [1, 2]
    assert not hasattr(recorder, "epochs")  # the original was not used
    assert repr(Recorder(stop_after=1)) == "Recorder(stop_after=1)"


def test_callbacks_must_be_a_list():
    X, y = _views()
    with pytest.raises(ValueError, match="callbacks"):
        _small(callbacks=Recorder()).fit(X, y)


def test_built_in_callbacks_follow_the_parameters():
    """The loop's callbacks: the built-in ones from the parameters, then the user's."""
    recorder = Recorder()
    model = _small(early_stopping=True, verbose=1, callbacks=[recorder])
    plan = SimpleNamespace(
        early_stopping=True, validation_interval=3, patience=7, tol=0.5
    )
    built = model._callbacks_for(plan)
    assert [type(c) for c in built] == [
        DivergenceCheck,
        ValidationScoring,
        EarlyStopping,
        BestWeights,
        ProgressPrinter,
        Recorder,
    ]
    assert built[1].interval == 3
    assert (built[2].patience, built[2].tol) == (7, 0.5)
    plan = SimpleNamespace(
        early_stopping=False, validation_interval=1, patience=2, tol=0.0
    )
    quiet = _small(verbose=0)._callbacks_for(plan)
    assert [type(c) for c in quiet] == [DivergenceCheck, EarlyStopping]


def test_training_plan_is_frozen():
    """The plan of a call cannot be changed by the loop or a callback."""
    seen = []

    class Peek(Callback):
        def on_train_begin(self, loop):
            seen.append(loop.plan)
            with pytest.raises(dataclasses.FrozenInstanceError):
                loop.plan.max_epochs = 1

    X, y = _views()
    _small(init="random", max_epochs=2, batch_size=32, callbacks=[Peek()]).fit(X, y)
    (plan,) = seen
    assert (plan.max_epochs, plan.batch_count, plan.n_train) == (2, 4, 120)
    assert str(plan.device) == "cpu" and plan.first_epoch == 0
