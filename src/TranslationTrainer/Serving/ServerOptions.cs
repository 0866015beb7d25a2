namespace TranslationTrainer.Serving;

/// <summary>How `serve` listens, batches and limits requests; every value is a `serve` option.</summary>
public sealed record ServerOptions
{
    /// <summary>Loopback by default: a model server is exposed on purpose, never by accident.</summary>
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>0 = any free port (tests).</summary>
    public int Port { get; init; } = 8080;
    /// <summary>How long the oldest waiting sentence waits for others to join its batch.</summary>
    public double BatchWaitMs { get; init; } = 5;
    /// <summary>Padded source subwords per batch (sentences × the longest one).</summary>
    public int MaxBatchTokens { get; init; } = 2048;
    /// <summary>Sentences waiting for a worker; more are refused with 503 and Retry-After.</summary>
    public int MaxQueue { get; init; } = 1024;
    public long MaxBodyBytes { get; init; } = 1 << 20;
    /// <summary>Texts (and lines within them) in one request.</summary>
    public int MaxSentences { get; init; } = 100;
    /// <summary>Characters in one text.</summary>
    public int MaxCharacters { get; init; } = 5000;
    /// <summary>LibreTranslate's `alternatives` and /v1's n-best above 1; a cap keeps one request from taking a beam of hundreds.</summary>
    public int MaxAlternatives { get; init; } = 5;
    public int MaxBeam { get; init; } = 16;
    /// <summary>A request not answered by then gets 503; its sentences still waiting are dropped.</summary>
    public double RequestTimeoutSeconds { get; init; } = 30;
    /// <summary>When set, the translate endpoints need it (header X-API-Key, Authorization: Bearer, or field api_key).</summary>
    public string? ApiKey { get; init; }
    /// <summary>The model's languages, as LibreTranslate codes (/languages, and the `source`/`target` a request must name).</summary>
    public string SourceLanguage { get; init; } = "";
    public string TargetLanguage { get; init; } = "";

    public void Validate()
    {
        if (Port is < 0 or > 65535) throw new UserError($"`port` must be between 0 and 65535, got {Port}");
        if (BatchWaitMs < 0) throw new UserError("`batch-wait-ms` must not be negative");
        if (MaxBatchTokens < 1) throw new UserError("`max-batch-tokens` must be at least 1");
        if (MaxQueue < 1) throw new UserError("`max-queue` must be at least 1");
        if (MaxBodyBytes < 1) throw new UserError("`max-body-bytes` must be at least 1");
        if (MaxSentences < 1) throw new UserError("`max-sentences` must be at least 1");
        if (MaxCharacters < 1) throw new UserError("`max-characters` must be at least 1");
        if (MaxAlternatives < 0) throw new UserError("`max-alternatives` must not be negative");
        if (MaxBeam < 1) throw new UserError("`max-beam` must be at least 1");
        if (RequestTimeoutSeconds <= 0) throw new UserError("`request-timeout` must be positive");
        if (ApiKey is "") throw new UserError("`api-key` must not be empty");
        if (SourceLanguage == "" || TargetLanguage == "") throw new UserError("`source-lang` and `target-lang` must not be empty");
    }
}
