namespace TranslationTrainer.Training;

/// <summary>Learning rate as a function of the update number (1-based).</summary>
public static class Schedule
{
    public static double LearningRate(TrainConfig config, long update)
    {
        double step = Math.Max(1, update), warmup = config.WarmupUpdates, peak = config.LearningRate;
        return config.Schedule switch
        {
            // fairseq's inverse_sqrt: linear warmup to the peak, then decay with 1/sqrt(update).
            "inverse-sqrt" => warmup == 0 ? peak / Math.Sqrt(step) : peak * Math.Min(step / warmup, Math.Sqrt(warmup / step)),
            // Noam (Vaswani et al.): LearningRate is the factor, scaled by d_model^-0.5.
            "noam" => peak * Math.Pow(config.Model.DModel, -0.5) * Math.Min(Math.Pow(step, -0.5), step * Math.Pow(Math.Max(1, warmup), -1.5)),
            "constant" => warmup == 0 ? peak : peak * Math.Min(1, step / warmup),
            _ => throw new UserError($"unknown schedule '{config.Schedule}'"),
        };
    }
}
