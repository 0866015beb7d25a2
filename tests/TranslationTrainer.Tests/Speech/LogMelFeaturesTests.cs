using System.Globalization;
using TranslationTrainer.Speech;
using static TorchSharp.torch;

namespace TranslationTrainer.Tests.Speech;

// Expected values: the HTK mel scale written out below (mel = 2595·log10(1 + f/700)), 80 triangles between 82
// points evenly spaced in mel from 0 to 8 kHz, FFT bin k at k·31.25 Hz; and torchaudio 0.13.1's own numbers
// (melscale_fbanks, MelSpectrogram) where noted, from Fixtures/torchaudio_reference.py.
public class LogMelFeaturesTests
{
    public static string Fixture(string file) => Path.Combine(AppContext.BaseDirectory, "Speech", "Fixtures", file);

    private static float[] Sine(double hz, int samples, double amplitude = 0.5) =>
        [.. Enumerable.Range(0, samples).Select(i => (float)(amplitude * Math.Sin(2 * Math.PI * hz * i / 16000)))];

    private static float[,] ToArray(Tensor t)
    {
        var data = t.data<float>().ToArray();
        int rows = (int)t.shape[0], cols = (int)t.shape[1];
        var result = new float[rows, cols];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) result[i, j] = data[i * cols + j];
        return result;
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(399, 0)]
    [InlineData(400, 1)]
    [InlineData(559, 1)]
    [InlineData(560, 2)]
    [InlineData(16000, 98)]  // 1 + (16000 − 400) / 160 = 1 + 97.5 → 98
    [InlineData(16400, 101)]
    public void FrameCount(int samples, int frames)
    {
        Assert.Equal(frames, LogMelFeatures.FrameCount(samples));
        using var features = LogMelFeatures.Compute(new float[samples]);
        Assert.Equal([frames, 80], features.shape);
    }

    [Fact]
    public void HtkMelScale()
    {
        Assert.Equal(0.0, LogMelFeatures.HzToMel(0));
        Assert.Equal(2595 * Math.Log10(1 + 1000.0 / 700), LogMelFeatures.HzToMel(1000), 1e-9);  // 999.99 mel
        Assert.Equal(1234.5, LogMelFeatures.MelToHz(LogMelFeatures.HzToMel(1234.5)), 1e-9);
    }

    /// <summary>Mel point i of 82 as Hz, from the formula directly.</summary>
    private static double Point(int i)
    {
        double melMax = 2595 * Math.Log10(1 + 8000.0 / 700);  // 2840.02
        return 700 * (Math.Pow(10, melMax * i / 81 / 2595) - 1);
    }

    [Fact]
    public void FilterbankTriangles()
    {
        var bank = LogMelFeatures.Filterbank();
        Assert.Equal(257, bank.GetLength(0));
        Assert.Equal(80, bank.GetLength(1));
        // Bin 0 rises from 0 Hz to point 1 (22.12 Hz) and falls to point 2 (44.94 Hz): of the FFT bins only k = 1
        // (31.25 Hz) is inside, on the falling side: (44.94 − 31.25) / (44.94 − 22.12) = 0.5999.
        Assert.Equal((Point(2) - 31.25) / (Point(2) - Point(1)), bank[1, 0], 1e-6);
        Assert.Equal(0.599899, bank[1, 0], 1e-5);  // torchaudio melscale_fbanks(257, 0, 8000, 80, 16000, None, "htk")[1, 0]
        Assert.Equal(0f, bank[0, 0]);
        Assert.Equal(0f, bank[2, 0]);
        // Bin 28: points 28, 29, 30 = 972.7, 1025.5, 1080.8 Hz; k = 32 (1000 Hz) rises, 33 (1031.25 Hz) and 34 (1062.5) fall.
        Assert.Equal((1000 - Point(28)) / (Point(29) - Point(28)), bank[32, 28], 1e-6);
        Assert.Equal((Point(30) - 1031.25) / (Point(30) - Point(29)), bank[33, 28], 1e-6);
        Assert.Equal((Point(30) - 1062.5) / (Point(30) - Point(29)), bank[34, 28], 1e-6);
        Assert.Equal([0.516601, 0.895487, 0.322382], [bank[32, 28], bank[33, 28], bank[34, 28]], (a, b) => Math.Abs(a - b) < 1e-5);
        Assert.Equal(0f, bank[31, 28]);
        Assert.Equal(0f, bank[35, 28]);
        // Bin 79, the last, falls to 8 kHz: k = 256 is its end point, 0; k = 248 (7750 Hz) is just after its peak.
        Assert.Equal(0f, bank[256, 79], 1e-6);  // up to rounding: the last point is 8 kHz through mel and back
        Assert.Equal((8000 - 7750) / (8000 - Point(80)), bank[248, 79], 1e-6);
        Assert.Equal(0.938089, bank[248, 79], 1e-5);
    }

    [Fact]
    public void SineOf1kHzPeaksInTheBinOfItsFrequency()
    {
        // 1 kHz is FFT bin 32 exactly; of the triangles there, bin 28's (0.517) is above bin 27's (0.483):
        // 1000 Hz lies between points 28 (972.7 Hz, bin 27's peak) and 29 (1025.5 Hz, bin 28's peak), nearer 29.
        int expected = Enumerable.Range(0, 80).MaxBy(m => Math.Max(0, Math.Min(
            (1000 - Point(m)) / (Point(m + 1) - Point(m)), (Point(m + 2) - 1000) / (Point(m + 2) - Point(m + 1)))));
        Assert.Equal(28, expected);
        using var logMel = LogMelFeatures.LogMel(Sine(1000, 16000));
        Assert.Equal([98, 80], logMel.shape);
        var values = ToArray(logMel);
        for (int t = 0; t < 98; t++)
            Assert.Equal(expected, Enumerable.Range(0, 80).MaxBy(m => values[t, m]));
        // torchaudio's MelSpectrogram gives bin 28 2292.12 and bin 27 2238.95 (power) for this sine
        Assert.Equal(Math.Log(2292.1196 + 1e-6), values[5, 28], 1e-3);
        Assert.Equal(Math.Log(2238.9541 + 1e-6), values[5, 27], 1e-3);
    }

    [Fact]
    public void NormalizationGivesMeanZeroStdOnePerBin()
    {
        var random = new Random(3);
        var samples = Sine(440, 8000).Select(s => s + (float)(0.1 * (random.NextDouble() - 0.5))).ToArray();
        using var features = LogMelFeatures.Compute(samples);
        using var mean = features.mean([0]);
        using var std = features.std([0], unbiased: false);
        Assert.All(mean.data<float>().ToArray(), m => Assert.Equal(0, m, 1e-4));
        Assert.All(std.data<float>().ToArray(), s => Assert.Equal(1, s, 1e-4));
    }

    [Fact]
    public void ConstantBinsBecomeZero()
    {
        using var features = LogMelFeatures.Compute(new float[4000]);  // silence: every bin log(1e-6)
        Assert.All(features.data<float>().ToArray(), v => Assert.Equal(0f, v));
    }

    /// <summary>torchaudio's values are printed to 5 decimals; ours agree to 2e-4 here, 5e-4 leaves room for another BLAS.</summary>
    [Fact]
    public void FixturesAgreeWithTorchaudio()
    {
        foreach (var line in File.ReadLines(Fixture("torchaudio-logmel.tsv")).Where(l => !l.StartsWith('#')))
        {
            var f = line.Split('\t');
            var audio = WavFile.Read(Fixture(f[0]));
            Assert.Equal(int.Parse(f[1]), audio.Samples.Length);
            var expected = f[5].Split(' ').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            using var features = f[4] == "logmel" ? LogMelFeatures.LogMel(audio.Samples) : LogMelFeatures.Compute(audio.Samples);
            Assert.Equal(int.Parse(f[2]), features.shape[0]);
            var row = features[int.Parse(f[3])].data<float>().ToArray();
            for (int m = 0; m < 80; m++)
                Assert.True(Math.Abs(expected[m] - row[m]) < 5e-4, $"{f[0]} frame {f[3]} {f[4]} bin {m}: torchaudio {expected[m]}, ours {row[m]}");
        }
    }

    [Fact]
    public void SynthesizedFixturesHaveAFramePerTenMilliseconds()
    {
        var manifest = SpeechManifest.Read(Fixture("manifest.tsv"));
        Assert.Equal(["Then Job answered Yahweh:", "Esto manda y enseña.", "Shallum, Amariah, and Joseph."], manifest.Select(u => u.Text));
        foreach (var utterance in manifest)
        {
            var audio = WavFile.Read(utterance.WavPath);
            Assert.InRange(audio.Seconds, 1.0, 3.0);
            using var features = LogMelFeatures.FromFile(utterance.WavPath);
            // one frame per 10 ms after the first 25 ms: 1 + ⌊(N − 400) / 160⌋
            int frames = 1 + (audio.Samples.Length - 400) / 160;
            Assert.Equal([frames, 80], features.shape);
            Assert.InRange(frames, (audio.Seconds - 0.025) * 100, (audio.Seconds - 0.025) * 100 + 1);
            Assert.False(features.isnan().any().item<bool>());
        }
    }

    [Fact]
    public void TooShortAudioIsAnErrorNamingTheFile()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("tt-mel-").FullName, "short.wav");
        try
        {
            File.WriteAllBytes(path, WavFile.EncodePcm16(new float[399], 16000));
            Assert.Equal($"{path}: 399 samples (24.9 ms), shorter than one 400-sample (25 ms) frame",
                Assert.Throws<UserError>(() => LogMelFeatures.FromFile(path)).Message);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }
}
