using System.Buffers.Binary;
using TranslationTrainer.Speech;

namespace TranslationTrainer.Tests.Speech;

public sealed class WavFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tt-wav-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A WAV file built field by field: the "fmt " chunk as given, optional extra chunks before "data".</summary>
    private static byte[] Wav(ushort tag, int channels, int rate, int bits, byte[] data, int? declaredData = null,
        byte[]? extraChunk = null, bool extensible = false)
    {
        var stream = new MemoryStream();
        var w = new BinaryWriter(stream);
        w.Write("RIFF"u8);
        w.Write(0);  // patched below
        w.Write("WAVE"u8);
        if (extraChunk is not null)
        {
            w.Write("LIST"u8);
            w.Write(extraChunk.Length);
            w.Write(extraChunk);
            if (extraChunk.Length % 2 == 1) w.Write((byte)0);
        }
        w.Write("fmt "u8);
        w.Write(extensible ? 40 : 16);
        w.Write(extensible ? (ushort)0xFFFE : tag);
        w.Write((ushort)channels);
        w.Write(rate);
        w.Write(rate * channels * bits / 8);
        w.Write((ushort)(channels * bits / 8));
        w.Write((ushort)bits);
        if (extensible)
        {
            w.Write((ushort)22);  // cbSize
            w.Write((ushort)bits);  // valid bits
            w.Write(0);  // channel mask
            w.Write(tag);  // the sub-format GUID starts with the format tag
            w.Write(new byte[] { 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71 });
        }
        w.Write("data"u8);
        w.Write(declaredData ?? data.Length);
        w.Write(data);
        w.Flush();
        var bytes = stream.ToArray();
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), bytes.Length - 8);
        return bytes;
    }

    private static byte[] Pcm16(params short[] samples)
    {
        var data = new byte[2 * samples.Length];
        for (int i = 0; i < samples.Length; i++) BinaryPrimitives.WriteInt16LittleEndian(data.AsSpan(2 * i), samples[i]);
        return data;
    }

    private static byte[] Float32(params float[] samples)
    {
        var data = new byte[4 * samples.Length];
        for (int i = 0; i < samples.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(4 * i), samples[i]);
        return data;
    }

    private string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private string Error(string name, byte[] bytes, int? rate = WavFile.SpeechSampleRate)
    {
        var path = Write(name, bytes);
        var error = Assert.Throws<UserError>(() => WavFile.Read(path, rate));
        Assert.StartsWith(path + ": ", error.Message);
        Assert.DoesNotContain('\n', error.Message);
        return error.Message[(path.Length + 2)..];
    }

    [Fact]
    public void ReadsPcm16Mono()
    {
        var audio = WavFile.Read(Write("a.wav", Wav(1, 1, 16000, 16, Pcm16(0, 16384, -32768, 32767))));
        Assert.Equal(16000, audio.SampleRate);
        Assert.Equal([0f, 0.5f, -1f, 32767f / 32768], audio.Samples);
    }

    [Fact]
    public void AveragesStereo()
    {
        // frames (L, R): (16384, 0) → 0.25; (-32768, 32767) → (-1 + 0.99997) / 2
        var audio = WavFile.Read(Write("s.wav", Wav(1, 2, 16000, 16, Pcm16(16384, 0, -32768, 32767))));
        Assert.Equal(2, audio.Samples.Length);
        Assert.Equal(0.25f, audio.Samples[0]);
        Assert.Equal((-1f + 32767f / 32768) / 2, audio.Samples[1]);
    }

    [Fact]
    public void ReadsFloat32MonoAndStereo()
    {
        Assert.Equal([0.5f, -0.25f], WavFile.Read(Write("f.wav", Wav(3, 1, 16000, 32, Float32(0.5f, -0.25f)))).Samples);
        Assert.Equal([0.25f], WavFile.Read(Write("f2.wav", Wav(3, 2, 16000, 32, Float32(0.75f, -0.25f)))).Samples);
    }

    [Fact]
    public void ReadsExtensibleAndSkipsOtherChunks()
    {
        Assert.Equal([0.5f], WavFile.Read(Write("e.wav", Wav(1, 1, 16000, 16, Pcm16(16384), extensible: true))).Samples);
        Assert.Equal([0.5f], WavFile.Read(Write("e3.wav", Wav(3, 1, 16000, 32, Float32(0.5f), extensible: true))).Samples);
        // an odd-sized chunk is padded to an even size before the next
        Assert.Equal([0.5f], WavFile.Read(Write("l.wav", Wav(1, 1, 16000, 16, Pcm16(16384), extraChunk: [1, 2, 3]))).Samples);
    }

    [Fact]
    public void EncodePcm16RoundTrips()
    {
        float[] samples = [0f, 0.5f, -1f, 0.25f];
        var audio = WavFile.Parse(WavFile.EncodePcm16(samples, 16000), "x");
        Assert.Equal(samples, audio.Samples);
        Assert.Equal(44 + 8, WavFile.EncodePcm16(samples, 16000).Length);
    }

    [Fact]
    public void RefusesOtherRates()
    {
        Assert.Equal("sample rate 22050 Hz, expected 16000 Hz (resample it, e.g. sox IN -r 16000 OUT)",
            Error("r.wav", Wav(1, 1, 22050, 16, Pcm16(1, 2))));
        Assert.Equal(22050, WavFile.Read(Path.Combine(_dir, "r.wav"), requiredSampleRate: null).SampleRate);
    }

    [Fact]
    public void RefusesOtherFormats()
    {
        Assert.Equal("unsupported WAV encoding 8-bit PCM (expected 16-bit PCM or 32-bit IEEE float)", Error("u8.wav", Wav(1, 1, 16000, 8, [1, 2])));
        Assert.Equal("unsupported WAV encoding 24-bit PCM (expected 16-bit PCM or 32-bit IEEE float)", Error("p24.wav", Wav(1, 1, 16000, 24, [1, 2, 3])));
        Assert.Equal("unsupported WAV encoding 64-bit IEEE float (expected 16-bit PCM or 32-bit IEEE float)", Error("f64.wav", Wav(3, 1, 16000, 64, new byte[8])));
        Assert.Equal("unsupported WAV encoding format tag 0x0006 (expected 16-bit PCM or 32-bit IEEE float)", Error("alaw.wav", Wav(6, 1, 16000, 8, [1])));
        Assert.Equal("unsupported WAV with 3 channels (expected mono or stereo)", Error("c3.wav", Wav(1, 3, 16000, 16, new byte[6])));
        Assert.Equal("not a RIFF/WAVE file", Error("text.wav", "this is not audio, just text"u8.ToArray()));
    }

    [Fact]
    public void RefusesEmptyAndTruncatedFiles()
    {
        Assert.Equal("empty file (0 bytes), not a WAV file", Error("empty.wav", []));
        var whole = Wav(1, 1, 16000, 16, Pcm16(1, 2, 3));
        Assert.Equal("truncated WAV header (10 bytes)", Error("t10.wav", whole[..10]));
        Assert.Equal("truncated WAV header (no 'fmt ' chunk)", Error("t12.wav", whole[..12]));
        Assert.Equal("truncated WAV header ('fmt ' chunk of 16 bytes, 10 present)", Error("t30.wav", whole[..30]));
        Assert.Equal("truncated WAV header (no 'data' chunk)", Error("t40.wav", whole[..40]));
        Assert.Equal("data chunk shorter than declared (4 of 6 bytes)", Error("short.wav", whole[..^2]));
        Assert.Equal("data chunk shorter than declared (6 of 4000 bytes)", Error("declared.wav", Wav(1, 1, 16000, 16, Pcm16(1, 2, 3), declaredData: 4000)));
        Assert.Equal("data chunk of 5 bytes is not a whole number of 2-byte frames", Error("odd.wav", Wav(1, 1, 16000, 16, [1, 2, 3, 4, 5])));
    }

    [Fact]
    public void MissingFileIsNamed() =>
        Assert.Contains("nope.wav: WAV file not found", Assert.Throws<UserError>(() => WavFile.Read(Path.Combine(_dir, "nope.wav"))).Message);
}
