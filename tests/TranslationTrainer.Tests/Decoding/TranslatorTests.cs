using TranslationTrainer.Decoding;
using TranslationTrainer.Model;
using TranslationTrainer.Tests.Training;
using TranslationTrainer.Text;
using static TorchSharp.torch;
using TranslationTrainer.Checkpoints;

namespace TranslationTrainer.Tests.Decoding;

[Collection(TorchCollection.Name)]
public class TranslatorTests
{
    private static readonly string FixtureDirectory = Path.Combine(AppContext.BaseDirectory, "Text", "Fixtures", "spm-bpe");

    /// <summary>A random tiny model over the SentencePiece fixture's vocabulary: real text in, (nonsense) text out.</summary>
    private static Translator NewTranslator(DecodingOptions options)
    {
        var vocab = VocabularyPair.Load(FixtureDirectory);
        manual_seed(11);
        var model = new Transformer(TinyModels.Config() with { MaxPositions = 128 }, vocab.Source.Size, vocab.Target.Size);
        model.eval();
        return new Translator(model, vocab, options, CPU);
    }

    private static List<string> Lines(int count) =>
        File.ReadLines(Path.Combine(FixtureDirectory, "input.txt")).Take(count).ToList();

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void OutputsFollowTheInputOrderAndEmptyLinesStayEmpty(int beam)
    {
        var lines = Lines(9);
        lines.Insert(3, "");
        lines.Add("");
        // Small batches, so sorting by length really regroups the lines.
        var translator = NewTranslator(new DecodingOptions { Beam = beam, BatchSize = 3, MaxLenA = 0, MaxLenB = 8 });
        var results = translator.TranslateAll(lines);
        Assert.Equal(lines, results.Select(r => r.Source));
        Assert.Equal("", results[3].Best);
        Assert.Equal("", results[^1].Best);
        Assert.Contains(results, r => r.Best.Length > 0);

        var shuffled = Enumerable.Range(0, lines.Count).OrderBy(i => (i * 7) % lines.Count).ToArray();
        var shuffledResults = translator.TranslateAll(shuffled.Select(i => lines[i]).ToList());
        for (int j = 0; j < shuffled.Length; j++)
        {
            Assert.Equal(lines[shuffled[j]], shuffledResults[j].Source);
            Assert.Equal(results[shuffled[j]].Best, shuffledResults[j].Best);
        }
    }

    /// <summary>Batches decoded by several workers at once: the same translations, in input order, as one worker.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void SeveralWorkersGiveTheSameTranslationsAsOne(int beam)
    {
        var lines = Lines(11);
        var options = new DecodingOptions { Beam = beam, BatchSize = 2, MaxLenA = 0, MaxLenB = 8, Workers = 1 };
        var one = NewTranslator(options).TranslateAll(lines);
        int threads = get_num_threads();
        var three = NewTranslator(options with { Workers = 3 }).TranslateAll(lines);
        Assert.Equal(one.Select(r => (r.Source, r.Best)), three.Select(r => (r.Source, r.Best)));
        // A worker with fewer threads may sum in another order: scores agree to float rounding.
        for (int i = 0; i < lines.Count; i++) Assert.Equal(one[i].NBest[0].Score, three[i].NBest[0].Score, 1e-5);
        // The workers' own thread counts do not leak out, not even to threads started later.
        Assert.Equal(threads, get_num_threads());
        int later = 0;
        var thread = new Thread(() => later = get_num_threads());
        thread.Start();
        thread.Join();
        Assert.Equal(threads, later);
    }

    /// <summary>
    /// Under bf16, sentences translated one at a time (one batch each, on this thread with all its libtorch threads: the
    /// backend chosen) and all at once (many batches, on one-thread workers: bf16-packed) give the same translations.
    /// </summary>
    [SkippableFact]
    public void UnderBf16OneBatchAndManyBatchesGiveTheSameTranslations()
    {
        Skip.IfNot(Precision.BFloat16Supported(CPU) && PackedBFloat16.Available, "needs AVX512_BF16 and the bf16 kernel");
        var (model, vocab) = ModelLoader.LoadModel(TinyRun.TrainedRunDirectory, null, CPU, Precision.BFloat16);
        using var _ = model;
        var lines = File.ReadLines(Path.Combine(Text.Corpus.Directory, "valid.es")).Take(8).ToList();
        // One sentence per batch, so that both ways decode the same batches.
        var options = new DecodingOptions { Beam = 3, BatchSize = 1, MaxLenA = 0, MaxLenB = 10 };
        var translator = new Translator(model, vocab, options, CPU);
        int threads = get_num_threads();
        try
        {
            set_num_threads(2);
            Assert.Equal(InferenceBackend.Choose(Precision.BFloat16, CPU).Name, translator.WorkerBackend(1));
            Assert.Equal(InferenceBackend.BFloat16Packed.Name, translator.WorkerBackend(2));
            var alone = lines.Select(line => translator.TranslateAll([line])[0].Best).ToList();
            var together = new Translator(model, vocab, options with { Workers = 2 }, CPU).TranslateAll(lines).Select(r => r.Best).ToList();
            Assert.Equal(alone, together);
            Assert.Contains(alone, line => line.Length > 0);
        }
        finally
        {
            set_num_threads(threads);
        }
    }

    [Fact]
    public void AWorkersFailureReachesTheCallerAndStopsTheOthers()
    {
        int started = 0;
        var error = Assert.Throws<UserError>(() => Workers.Run(100, 2, (item, _) =>
        {
            Interlocked.Increment(ref started);
            Assert.True(is_inference_mode_enabled(), "workers decode in inference mode");
            if (item == 3) throw new UserError("item 3 is bad");
            Thread.Sleep(1);
        }));
        Assert.Equal("item 3 is bad", error.Message);
        Assert.True(started < 100, $"{started} items started after the failure");
    }

    [Fact]
    public void StreamingInChunksGivesTheSameOutputsInOrder()
    {
        var lines = Lines(7);
        var translator = NewTranslator(new DecodingOptions { Beam = 1, BatchSize = 2, MaxLenA = 0, MaxLenB = 6 });
        var whole = translator.TranslateAll(lines).Select(r => r.Best);
        Assert.Equal(whole, translator.Translate(lines, chunkSize: 3).Select(r => r.Best));
    }

    [Fact]
    public void AlignmentsHaveOnePairPerTargetSubwordWithinTheSource()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var model = TinyModels.Create(seed: 8);
        var source = cat([TinyModels.RandomTokens(30, 2, 9), cat([TinyModels.RandomTokens(31, 2, 4), zeros(2, 5, dtype: int64)], 1)], 0);
        source[.., -1] = tensor((long)Vocabulary.EosId); // </s> ends the full-length rows …
        source[2, 4] = tensor((long)Vocabulary.EosId);
        source[3, 4] = tensor((long)Vocabulary.EosId); // … and follows the 4 real subwords of the padded ones
        int[] sourceLengths = [8, 8, 4, 4];
        foreach (var beam in new[] { 1, 3 })
        {
            var hypotheses = Search.Decode(model, source, [12, 12, 12, 12], new DecodingOptions { Beam = beam, MinLen = 2, MaxLenA = 0, MaxLenB = 12 });
            var targets = hypotheses.Select(h => h[0].Tokens).ToArray();
            var alignments = Alignment.Compute(model, source, sourceLengths, targets);
            for (int b = 0; b < 4; b++)
            {
                Assert.Equal(Enumerable.Range(0, targets[b].Length), alignments[b].Select(a => a.Target));
                Assert.All(alignments[b], a => Assert.InRange(a.Source, 0, sourceLengths[b] - 1));
            }
        }
    }

    [Fact]
    public void TranslatorAddsAlignmentsOnlyWhenAsked()
    {
        var lines = Lines(4);
        lines.Add("");
        var plain = NewTranslator(new DecodingOptions { Beam = 2, MaxLenA = 0, MaxLenB = 6 }).TranslateAll(lines);
        Assert.All(plain, r => Assert.Null(r.Alignment));
        var aligned = NewTranslator(new DecodingOptions { Beam = 2, MaxLenA = 0, MaxLenB = 6, Alignment = true }).TranslateAll(lines);
        Assert.Equal(plain.Select(r => r.Best), aligned.Select(r => r.Best));
        Assert.All(aligned.Take(4), r => Assert.NotEmpty(r.Alignment!));
        Assert.Empty(aligned[^1].Alignment!);
    }

    [Fact]
    public void AttentionMapsKeepEveryHeadOverTheSubwordsAndEndOfSentence()
    {
        var lines = Lines(3);
        lines.Insert(1, "");
        var plain = NewTranslator(new DecodingOptions { Beam = 2, MaxLenA = 0, MaxLenB = 6 }).TranslateAll(lines);
        Assert.All(plain, r => Assert.Null(r.Attention));
        var drawn = NewTranslator(new DecodingOptions { Beam = 2, MaxLenA = 0, MaxLenB = 6, AttentionMaps = true }).TranslateAll(lines);
        Assert.Equal(plain.Select(r => r.Best), drawn.Select(r => r.Best));
        Assert.Same(AttentionMap.Empty, drawn[1].Attention);
        var vocab = VocabularyPair.Load(FixtureDirectory);
        foreach (var result in drawn.Where(r => r.Source.Length > 0))
        {
            var map = result.Attention!;
            Assert.Equal([.. vocab.Source.EncodeToPieces(result.Source), "</s>"], map.SourceTokens);
            Assert.Equal("</s>", map.TargetTokens[^1]);
            Assert.Equal(TinyModels.Config().Heads, map.Heads.Count);
            foreach (var head in map.Heads.Append(map.Average()))
            {
                Assert.Equal(map.TargetTokens.Count, head.GetLength(0));
                Assert.Equal(map.SourceTokens.Count, head.GetLength(1));
                for (int t = 0; t < head.GetLength(0); t++)
                    Assert.Equal(1.0, Enumerable.Range(0, head.GetLength(1)).Sum(s => head[t, s]), 4); // a softmax over the real source
            }
        }
    }

    [Fact]
    public void TheAveragedCrossAttentionIsTheMeanOfTheHeads()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var model = TinyModels.Create(seed: 9);
        var (memory, keep) = model.Encode(TinyModels.RandomTokens(40, 2, 7));
        var target = TinyModels.RandomTokens(41, 2, 5);
        var perHead = model.LastCrossAttentionPerHead(target, memory, keep);
        Assert.Equal([2L, TinyModels.Config().Heads, 5, 7], perHead.shape);
        Assert.True(perHead.mean([1]).allclose(model.LastCrossAttention(target, memory, keep)));
    }
}
