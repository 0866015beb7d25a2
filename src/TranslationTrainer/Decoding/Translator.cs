using TranslationTrainer.Speech;
using TranslationTrainer.Text;
using static TorchSharp.torch;
using TranslationTrainer.Model;

namespace TranslationTrainer.Decoding;

/// <summary>
/// One input line's translation: the n-best outputs as text with their scores, and, when asked for, the best
/// output's subword alignment: (target subword index, source subword index) pairs, one per target subword,
/// and the cross-attention maps of the outputs.
/// </summary>
public sealed record TranslationResult(string Source, IReadOnlyList<(string Text, double Score)> NBest, IReadOnlyList<(int Target, int Source)>? Alignment = null)
{
    /// <summary>The cross-attention maps of the n-best outputs, in their order, when asked for.</summary>
    public IReadOnlyList<AttentionMap>? Attentions { get; init; }

    /// <summary>Subwords of the best output, without &lt;/s&gt;.</summary>
    public int Subwords { get; init; }

    /// <summary>The best output's cross-attention map, when asked for.</summary>
    public AttentionMap? Attention => Attentions?[0];

    public string Best => NBest.Count == 0 ? "" : NBest[0].Text;
}

/// <summary>
/// Vocabulary + model + search: text in, text out. Lines are sorted by length into batches (less padding,
/// <see cref="LengthSortedBatches"/>), which <see cref="Workers"/> decode several at a time, and the results are
/// returned in input order.
/// </summary>
public sealed class Translator(IDecodingModel model, VocabularyPair vocab, DecodingOptions options, Device device, Action<string>? warn = null)
{
    public DecodingOptions Options => options;

    /// <summary>The backend its decoding workers run on when `workers` of them decode at once (bf16-packed on one thread each).</summary>
    public string WorkerBackend(int workers) => model.ForWorker(Workers.ThreadsEach(workers)).Backend;

    /// <summary>Translates a stream of lines chunk by chunk, yielding each chunk's results in order.</summary>
    public IEnumerable<TranslationResult> Translate(IEnumerable<string> lines, int chunkSize)
    {
        var chunk = new List<string>(chunkSize);
        foreach (var line in lines)
        {
            chunk.Add(line);
            if (chunk.Count < chunkSize) continue;
            foreach (var result in TranslateAll(chunk)) yield return result;
            chunk.Clear();
        }
        foreach (var result in TranslateAll(chunk)) yield return result;
    }

    /// <summary>Whether the model reads speech: then each input line names a WAV file (a manifest line's text after a tab is ignored).</summary>
    public bool ReadsSpeech => model.Architecture == ModelConfig.SpeechArch;

    public List<TranslationResult> TranslateAll(IReadOnlyList<string> lines)
    {
        if (ReadsSpeech) return TranscribeFiles(lines);
        if (options.Ctc) throw new UserError("`ctc` decodes speech models with a CTC head; this model reads text");
        var encoded = new int[lines.Count][];
        for (int i = 0; i < lines.Count; i++)
        {
            var (ids, subwords) = Encode(lines[i]);
            if (ids.Length - 1 < subwords)
                warn?.Invoke($"input line {i + 1} has {subwords} subwords; translating its first {ids.Length - 1} (the model's --max-positions)");
            encoded[i] = ids;
        }
        return Translate(lines, encoded, options);
    }

    /// <summary>
    /// The WAV paths of a list or manifest (the text after a tab dropped), relative to the file's directory as in a
    /// manifest; an empty line stays empty (and is refused when read).
    /// </summary>
    public static IEnumerable<string> AudioPaths(IEnumerable<string> lines, string listPath)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(listPath))!;
        return lines.Select(line => line.Split('\t')[0].Trim() is { Length: > 0 } path ? Path.Combine(directory, path) : "");
    }

    /// <summary>Reads and decodes the WAV file each line names; a file that cannot be read, or longer than `max-seconds`, is an error naming it.</summary>
    private List<TranslationResult> TranscribeFiles(IReadOnlyList<string> lines)
    {
        if (options.Alignment || options.AttentionMaps) throw new UserError("alignments and attention maps are for text models; this model reads speech");
        var paths = lines.Select(line => line.Split('\t')[0].Trim()).ToArray();
        var features = new float[paths.Length][];
        for (int i = 0; i < paths.Length; i++)
        {
            if (paths[i].Length == 0) throw new UserError($"input line {i + 1}: empty, expected a WAV file path");
            var audio = WavFile.Read(paths[i]);
            if (audio.Seconds > options.MaxSeconds)
                throw new UserError($"{paths[i]}: {audio.Seconds:0.0} s of audio, longer than `max-seconds` {options.MaxSeconds:0.#} (long files are not split: cut it, or raise the limit)");
            features[i] = LogMelFeatures.Frames(audio, paths[i]);
        }
        return new SpeechTranscriber(model, vocab.Target, options, device).TranscribeAll(paths, features, LogMelFeatures.MelBins);
    }

    /// <summary>A line's source ids ending in &lt;/s&gt;, cut to what the model's positions hold, and its subword count before the cut.</summary>
    public (int[] Ids, int Subwords) Encode(string line)
    {
        var ids = vocab.Source.Encode(line);
        int limit = model.MaxPositions - 1;
        return ([.. ids.Length > limit ? ids[..limit] : ids, Vocabulary.EosId], ids.Length);
    }

    /// <summary>
    /// Translates lines already encoded by <see cref="Encode"/>, in input order, with the given options (the server's
    /// requests each bring their own).
    /// </summary>
    public List<TranslationResult> Translate(IReadOnlyList<string> lines, IReadOnlyList<int[]> encoded, DecodingOptions options)
    {
        options.Validate();
        var results = new TranslationResult[lines.Count];
        for (int i = 0; i < lines.Count; i++)
            if (encoded[i].Length == 1)
                results[i] = new TranslationResult(lines[i], [("", 0.0)], options.Alignment ? [] : null) { Attentions = options.AttentionMaps ? [AttentionMap.Empty] : null };
        new LengthSortedBatches(encoded, options.BatchSize).Decode(model, options, length => options.MaxLength(length, model.MaxPositions), device, Workers.Resolve(options.Workers, device), batch =>
        {
            var (alignments, attentions) = options.Alignment || options.AttentionMaps ? ReadAttention(batch.Decoder, batch.Source, batch.SourceIds, batch.Hypotheses, options) : (null, null);
            for (int j = 0; j < batch.Inputs.Length; j++)
                results[batch.Inputs[j]] = new TranslationResult(lines[batch.Inputs[j]], batch.Hypotheses[j].Select(h => (vocab.Target.Decode(h.Tokens), h.Score)).ToList(), alignments?[j])
                    { Attentions = attentions?[j], Subwords = batch.Hypotheses[j][0].Tokens.Length };
        });
        return [.. results];
    }

    /// <summary>
    /// One teacher-forced pass serves both the alignments (of the best hypotheses) and the heat maps (of every
    /// n-best hypothesis, so that a reader can look at any of them).
    /// </summary>
    private ((int Target, int Source)[][]? Alignments, AttentionMap[][]? Maps) ReadAttention(IDecodingModel decoder, Tensor source, int[][] sourceIds, List<Hypothesis>[] hypotheses, DecodingOptions options)
    {
        // Row r of the pass decodes hypothesis forced[r] of sentence rows[r]; each sentence's best comes first.
        int[] rows = options.AttentionMaps ? [.. hypotheses.SelectMany((h, j) => Enumerable.Repeat(j, h.Count))] : [.. Enumerable.Range(0, hypotheses.Length)];
        int[][] forced = options.AttentionMaps ? [.. hypotheses.SelectMany(h => h.Select(x => x.Tokens))] : [.. hypotheses.Select(h => h[0].Tokens)];
        var weights = Alignment.CrossAttention(decoder, options.AttentionMaps ? source.index_select(0, tensor(rows.Select(r => (long)r).ToArray(), device: device)) : source, forced);
        int[] firstRows = [.. Enumerable.Range(0, hypotheses.Length).Select(j => Array.IndexOf(rows, j))];
        var alignments = options.Alignment
            ? Alignment.FromAttention(weights.index_select(0, tensor(firstRows.Select(r => (long)r).ToArray())), [.. sourceIds.Select(ids => ids.Length - 1)], [.. firstRows.Select(r => forced[r])])
            : null;
        if (!options.AttentionMaps) return (alignments, null);
        var maps = AttentionMap.FromAttention(weights, vocab, [.. rows.Select(r => sourceIds[r])], forced);
        return (alignments, [.. firstRows.Select((first, j) => maps[first..(first + hypotheses[j].Count)])]);
    }
}
