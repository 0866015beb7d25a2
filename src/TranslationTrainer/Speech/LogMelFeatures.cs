using static TorchSharp.torch;

namespace TranslationTrainer.Speech;

/// <summary>
/// 80-bin log-mel features of 16 kHz audio, as torchaudio's <c>MelSpectrogram(sample_rate=16000, n_fft=512,
/// win_length=400, hop_length=160, n_mels=80)</c> computes them with its defaults (periodic Hann window, power 2,
/// <c>mel_scale="htk"</c>, <c>norm=None</c>, f_min 0, f_max 8 kHz) except for the framing:
/// <list type="bullet">
/// <item>Frames are not centred: frame t covers samples [160·t, 160·t + 400), 25 ms every 10 ms, so an utterance of
/// N samples has <c>N &lt; 400 ? 0 : 1 + (N − 400) / 160</c> frames (integer division; Kaldi's snip-edges). Each
/// frame is Hann-windowed and zero-padded to the 512-point FFT (257 frequency bins, 31.25 Hz apart). It is computed
/// with <c>torch.stft(n_fft=512, win_length=400, center=false)</c> on the signal padded with 56 zeros each side, since
/// stft centres the shorter window inside its 512-sample frame.</item>
/// <item>Then <c>log(mel + 1e-6)</c>, and each of the 80 bins normalised over the utterance's frames to mean 0 and
/// standard deviation 1 (population std; a bin whose std is below 1e-5 is divided by 1e-5 instead).</item>
/// </list>
/// Samples are taken as they are read (16-bit PCM divided by 32768). Computed on the CPU in float32.
/// </summary>
public static class LogMelFeatures
{
    public const int SampleRate = WavFile.SpeechSampleRate;
    public const int WindowLength = 400;
    public const int HopLength = 160;
    public const int FftSize = 512;
    public const int FrequencyBins = FftSize / 2 + 1;
    public const int MelBins = 80;
    public const double LogOffset = 1e-6;
    public const double MinStd = 1e-5;

    /// <summary>Zeros on each side so that stft's centred 400-sample window starts at the frame's first sample.</summary>
    private const int WindowOffset = (FftSize - WindowLength) / 2;

    private static readonly Lazy<float[,]> SharedFilterbank = new(() => Filterbank(FrequencyBins, MelBins, SampleRate));

    /// <summary>The number of frames of <paramref name="samples"/> samples: 1 + (N − 400) / 160, none below 400.</summary>
    public static int FrameCount(long samples) => samples < WindowLength ? 0 : (int)(1 + (samples - WindowLength) / HopLength);

    /// <summary>HTK's mel scale: 2595 · log10(1 + f / 700).</summary>
    public static double HzToMel(double hz) => 2595.0 * Math.Log10(1.0 + hz / 700.0);

    public static double MelToHz(double mel) => 700.0 * (Math.Pow(10.0, mel / 2595.0) - 1.0);

    /// <summary>
    /// torchaudio's <c>melscale_fbanks(n_freqs, 0, sample_rate / 2, n_mels, sample_rate, norm=None, mel_scale="htk")</c>:
    /// [n_freqs, n_mels]; bin m is the triangle rising from mel point m to m+1 and falling to m+2, the n_mels + 2
    /// points evenly spaced in mel from 0 to the Nyquist frequency, frequency k at k · (sample_rate / 2) / (n_freqs − 1).
    /// </summary>
    public static float[,] Filterbank(int frequencyBins = FrequencyBins, int melBins = MelBins, int sampleRate = SampleRate)
    {
        double nyquist = sampleRate / 2;  // torchaudio: linspace(0, sample_rate // 2, n_freqs)
        double melMax = HzToMel(nyquist);
        var points = new double[melBins + 2];
        for (int i = 0; i < points.Length; i++) points[i] = MelToHz(melMax * i / (melBins + 1));
        var bank = new float[frequencyBins, melBins];
        for (int k = 0; k < frequencyBins; k++)
        {
            double f = nyquist * k / (frequencyBins - 1);
            for (int m = 0; m < melBins; m++)
            {
                double up = (f - points[m]) / (points[m + 1] - points[m]);
                double down = (points[m + 2] - f) / (points[m + 2] - points[m + 1]);
                bank[k, m] = (float)Math.Max(0.0, Math.Min(up, down));
            }
        }
        return bank;
    }

    /// <summary>Normalised log-mel features of 16 kHz mono samples: [frames, 80] on the CPU; no frames for under 400 samples.</summary>
    public static Tensor Compute(ReadOnlySpan<float> samples)
    {
        using var scope = NewDisposeScope();
        return Normalize(LogMel(samples)).MoveToOuterDisposeScope();
    }

    /// <summary>The features of a WAV file (16 kHz required): [frames, 80]; audio shorter than one frame is an error naming the file.</summary>
    public static Tensor FromFile(string path)
    {
        var audio = WavFile.Read(path);
        RequireOneFrame(audio, path);
        return Compute(audio.Samples);
    }

    /// <summary>Refuses audio shorter than one frame with an error naming it (`name`: its file, or a manifest line and file).</summary>
    public static void RequireOneFrame(WavAudio audio, string name)
    {
        if (FrameCount(audio.Samples.Length) == 0)
            throw new UserError($"{name}: {audio.Samples.Length} samples ({audio.Seconds * 1000:0.#} ms), shorter than one {WindowLength}-sample (25 ms) frame");
    }

    /// <summary>The features of audio read from `name`, as [frames × 80] row-major values: what training batches and decoding read.</summary>
    public static float[] Frames(WavAudio audio, string name)
    {
        RequireOneFrame(audio, name);
        using var features = Compute(audio.Samples);
        return features.data<float>().ToArray();
    }

    /// <summary>log(mel power + 1e-6) before normalisation: [frames, 80].</summary>
    public static Tensor LogMel(ReadOnlySpan<float> samples)
    {
        int frames = FrameCount(samples.Length);
        if (frames == 0) return zeros(0, MelBins);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var signal = nn.functional.pad(tensor(samples.ToArray()), [WindowOffset, WindowOffset]);
        var window = hann_window(WindowLength, periodic: true);
        var spectrum = stft(signal, FftSize, hop_length: HopLength, win_length: WindowLength, window: window,
            center: false, return_complex: true);  // [257, frames]
        var power = spectrum.abs().square().t();  // [frames, 257]
        var mel = power.matmul(tensor(SharedFilterbank.Value));
        return (mel + LogOffset).log().MoveToOuterDisposeScope();
    }

    /// <summary>Each bin (column) to mean 0 and std 1 over the frames (population std, at least 1e-5).</summary>
    public static Tensor Normalize(Tensor logMel)
    {
        if (logMel.shape[0] == 0) return logMel.clone();
        using var scope = NewDisposeScope();
        var mean = logMel.mean([0], keepdim: true);
        var std = logMel.std([0], unbiased: false, keepdim: true).clamp_min(MinStd);
        return ((logMel - mean) / std).MoveToOuterDisposeScope();
    }
}
