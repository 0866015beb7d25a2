using System.Buffers.Binary;

namespace TranslationTrainer.Speech;

/// <summary>Mono audio: samples in [-1, 1] at <see cref="SampleRate"/> Hz.</summary>
public sealed record WavAudio(float[] Samples, int SampleRate)
{
    public double Seconds => (double)Samples.Length / SampleRate;
}

/// <summary>
/// RIFF/WAVE files: PCM 16-bit or IEEE float 32-bit (also as WAVE_FORMAT_EXTENSIBLE), one or two channels; two are
/// averaged into one. 16-bit samples are divided by 32768. Chunks other than "fmt " and "data" are skipped (word
/// aligned, as RIFF pads odd sizes). Anything else — another encoding or bit depth, more channels, a file that ends
/// inside its header, an empty file, a data chunk shorter than it declares — is a one-line <see cref="UserError"/>
/// naming the file. There is no resampling: a rate other than the one required is refused (the corpus script
/// resamples with sox).
/// </summary>
public static class WavFile
{
    /// <summary>The rate the speech features are defined at.</summary>
    public const int SpeechSampleRate = 16000;

    private const ushort FormatPcm = 1, FormatFloat = 3, FormatExtensible = 0xFFFE;

    /// <summary>Reads <paramref name="path"/>; with <paramref name="requiredSampleRate"/> (16 kHz unless null), another rate is an error.</summary>
    public static WavAudio Read(string path, int? requiredSampleRate = SpeechSampleRate)
    {
        TextFile.RequireFile(path, "WAV file");
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError($"{path}: cannot read ({e.Message})");
        }
        return Parse(bytes, path, requiredSampleRate);
    }

    /// <summary>The audio in <paramref name="bytes"/>, a whole WAV file; <paramref name="name"/> labels errors.</summary>
    public static WavAudio Parse(ReadOnlySpan<byte> bytes, string name, int? requiredSampleRate = SpeechSampleRate)
    {
        if (bytes.Length == 0) throw new UserError($"{name}: empty file (0 bytes), not a WAV file");
        if (bytes.Length < 12) throw new UserError($"{name}: truncated WAV header ({bytes.Length} bytes)");
        if (!bytes[..4].SequenceEqual("RIFF"u8) || !bytes[8..12].SequenceEqual("WAVE"u8))
            throw new UserError($"{name}: not a RIFF/WAVE file");

        Format? format = null;
        long offset = 12;  // long: a chunk's declared size can point far past the end
        while (true)
        {
            if (offset + 8 > bytes.Length)
                throw new UserError(format is null
                    ? $"{name}: truncated WAV header (no 'fmt ' chunk)"
                    : $"{name}: truncated WAV header (no 'data' chunk)");
            var id = System.Text.Encoding.ASCII.GetString(bytes.Slice((int)offset, 4));
            long size = BinaryPrimitives.ReadUInt32LittleEndian(bytes[(int)(offset + 4)..]);
            offset += 8;
            if (id == "fmt ")
            {
                if (size < 16 || offset + size > bytes.Length)
                    throw new UserError($"{name}: truncated WAV header ('fmt ' chunk of {size} bytes, {Math.Max(0, bytes.Length - offset)} present)");
                format = ReadFormat(bytes.Slice((int)offset, (int)size), name);
            }
            else if (id == "data")
            {
                if (format is not { } f) throw new UserError($"{name}: 'data' chunk before the 'fmt ' chunk");
                long present = bytes.Length - offset;
                if (size > present)
                    throw new UserError($"{name}: data chunk shorter than declared ({present} of {size} bytes)");
                if (size % f.BlockAlign != 0)
                    throw new UserError($"{name}: data chunk of {size} bytes is not a whole number of {f.BlockAlign}-byte frames");
                if (requiredSampleRate is { } rate && f.SampleRate != rate)
                    throw new UserError($"{name}: sample rate {f.SampleRate} Hz, expected {rate} Hz (resample it, e.g. sox IN -r {rate} OUT)");
                return new WavAudio(Decode(bytes.Slice((int)offset, (int)size), f), f.SampleRate);
            }
            offset += size + (size & 1);
        }
    }

    private readonly record struct Format(ushort Encoding, int Channels, int SampleRate, int BlockAlign, int Bits);

    private static Format ReadFormat(ReadOnlySpan<byte> chunk, string name)
    {
        ushort tag = BinaryPrimitives.ReadUInt16LittleEndian(chunk);
        int channels = BinaryPrimitives.ReadUInt16LittleEndian(chunk[2..]);
        int rate = (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(chunk[4..]), int.MaxValue);
        int blockAlign = BinaryPrimitives.ReadUInt16LittleEndian(chunk[12..]);
        int bits = BinaryPrimitives.ReadUInt16LittleEndian(chunk[14..]);
        if (tag == FormatExtensible)
        {
            if (chunk.Length < 40) throw new UserError($"{name}: truncated WAV header (WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk of {chunk.Length} bytes)");
            tag = BinaryPrimitives.ReadUInt16LittleEndian(chunk[24..]);  // the sub-format GUID starts with the format tag
        }
        string encoding = tag switch
        {
            FormatPcm => $"{bits}-bit PCM",
            FormatFloat => $"{bits}-bit IEEE float",
            _ => $"format tag 0x{tag:X4}",
        };
        if (!((tag == FormatPcm && bits == 16) || (tag == FormatFloat && bits == 32)))
            throw new UserError($"{name}: unsupported WAV encoding {encoding} (expected 16-bit PCM or 32-bit IEEE float)");
        if (channels is not (1 or 2)) throw new UserError($"{name}: unsupported WAV with {channels} channels (expected mono or stereo)");
        if (blockAlign != channels * bits / 8)
            throw new UserError($"{name}: inconsistent WAV header (block align {blockAlign} for {channels} channel(s) of {encoding})");
        if (rate <= 0) throw new UserError($"{name}: invalid WAV sample rate {rate}");
        return new Format(tag, channels, rate, blockAlign, bits);
    }

    private static float[] Decode(ReadOnlySpan<byte> data, Format format)
    {
        int frames = data.Length / format.BlockAlign;
        var samples = new float[frames];
        int bytesPerSample = format.Bits / 8;
        for (int i = 0; i < frames; i++)
        {
            float sum = 0;
            for (int c = 0; c < format.Channels; c++)
            {
                var at = data[(i * format.BlockAlign + c * bytesPerSample)..];
                sum += format.Encoding == FormatPcm
                    ? BinaryPrimitives.ReadInt16LittleEndian(at) / 32768f
                    : BinaryPrimitives.ReadSingleLittleEndian(at);
            }
            samples[i] = format.Channels == 1 ? sum : sum / format.Channels;
        }
        return samples;
    }

    /// <summary>A mono 16-bit PCM WAV file of <paramref name="samples"/> (clipped to [-1, 1]), as the corpus script writes them.</summary>
    public static byte[] EncodePcm16(ReadOnlySpan<float> samples, int sampleRate)
    {
        var bytes = new byte[44 + 2 * samples.Length];
        var span = bytes.AsSpan();
        "RIFF"u8.CopyTo(span);
        BinaryPrimitives.WriteUInt32LittleEndian(span[4..], (uint)(bytes.Length - 8));
        "WAVEfmt "u8.CopyTo(span[8..]);
        BinaryPrimitives.WriteUInt32LittleEndian(span[16..], 16);
        BinaryPrimitives.WriteUInt16LittleEndian(span[20..], FormatPcm);
        BinaryPrimitives.WriteUInt16LittleEndian(span[22..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(span[24..], (uint)sampleRate);
        BinaryPrimitives.WriteUInt32LittleEndian(span[28..], (uint)(2 * sampleRate));
        BinaryPrimitives.WriteUInt16LittleEndian(span[32..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(span[34..], 16);
        "data"u8.CopyTo(span[36..]);
        BinaryPrimitives.WriteUInt32LittleEndian(span[40..], (uint)(2 * samples.Length));
        for (int i = 0; i < samples.Length; i++)
        {
            var value = Math.Clamp(MathF.Round(samples[i] * 32768f), short.MinValue, short.MaxValue);
            BinaryPrimitives.WriteInt16LittleEndian(span[(44 + 2 * i)..], (short)value);
        }
        return bytes;
    }
}
