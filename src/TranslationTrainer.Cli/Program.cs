using TranslationTrainer.Cli;

return CliApp.Run(args, CliContext.Console);
