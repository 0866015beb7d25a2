using System.Text;

namespace TranslationTrainer.Text;

/// <summary>
/// Reads the normaliser name (e.g. "nmt_nfkc") from a SentencePiece .model, a protobuf ModelProto whose field 3 is
/// normalizer_spec and whose field 1 is its name. Microsoft.ML.Tokenizers 2.0.1 ignores the model's normalisation
/// rules for BPE models, so we need the name to apply the same normalisation ourselves.
/// </summary>
internal static class SentencePieceModelFile
{
    public static string NormalizerName(byte[] model)
    {
        var spec = Field(model, 3);
        return spec is null ? "" : Encoding.UTF8.GetString(Field(spec, 1) ?? []);
    }

    /// <summary>The bytes of the first length-delimited field with this number, or null.</summary>
    private static byte[]? Field(ReadOnlySpan<byte> message, int number)
    {
        int at = 0;
        while (at < message.Length)
        {
            ulong tag = Varint(message, ref at);
            switch (tag & 7)
            {
                case 0: Varint(message, ref at); break;
                case 1: at += 8; break;
                case 5: at += 4; break;
                case 2:
                    int length = checked((int)Varint(message, ref at));
                    if ((int)(tag >> 3) == number)
                    {
                        return message.Slice(at, length).ToArray();
                    }
                    at += length;
                    break;
                default: throw new FormatException($"unexpected protobuf wire type {tag & 7}");
            }
        }
        return null;
    }

    private static ulong Varint(ReadOnlySpan<byte> message, ref int at)
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            byte b = message[at++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }
        throw new FormatException("malformed protobuf varint");
    }
}
